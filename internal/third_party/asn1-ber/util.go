package ber

import "io"

func readByte(reader io.Reader) (byte, error) {
	// scimgate: a reader that can hand out one byte (go-ldap's
	// bufio.Reader, sliceReader) does so without an allocation per byte.
	if br, ok := reader.(io.ByteReader); ok {
		return br.ReadByte()
	}
	bytes := make([]byte, 1)
	_, err := io.ReadFull(reader, bytes)
	if err != nil {
		return 0, err
	}
	return bytes[0], nil
}

// eagerContent is the largest content read into a buffer of its declared
// length at once; longer content grows as it arrives, so that a length
// claimed by a peer is not allocated before its bytes are there.
const eagerContent = 1 << 20

// readContent reads the length bytes of a packet's content: out of a
// sliceReader without a copy, otherwise into a buffer of their own.
func readContent(reader io.Reader, length int) ([]byte, error) {
	if length == 0 {
		return []byte{}, nil
	}
	if sr, ok := reader.(*sliceReader); ok {
		return sr.next(length)
	}
	if length > eagerContent {
		content, err := io.ReadAll(io.LimitReader(reader, int64(length)))
		if err == nil && len(content) < length {
			err = io.EOF
		}
		return content, err
	}
	content := make([]byte, length)
	if _, err := io.ReadFull(reader, content); err != nil {
		return nil, err
	}
	return content, nil
}

// sliceReader reads the content of a constructed packet, which its
// children's contents are slices of.
type sliceReader struct {
	b   []byte
	off int
}

func (r *sliceReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *sliceReader) ReadByte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// next returns the next n bytes, capped so that appending to them (a
// packet's Data written to) copies them instead of overwriting what
// follows.
func (r *sliceReader) next(n int) ([]byte, error) {
	if len(r.b)-r.off < n {
		r.off = len(r.b)
		return nil, io.ErrUnexpectedEOF
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isEOCPacket(p *Packet) bool {
	return p != nil &&
		p.Tag == TagEOC &&
		p.ClassType == ClassUniversal &&
		p.TagType == TypePrimitive &&
		len(p.ByteValue) == 0 &&
		len(p.Children) == 0
}
