package ber

import (
	"bufio"
	"bytes"
	"testing"
)

// ldapEntry is an LDAP SearchResultEntry message as a directory sends
// one: nested sequences and sets down to the values.
func ldapEntry() *Packet {
	msg := NewSequence("LDAPMessage")
	msg.AppendChild(NewInteger(ClassUniversal, TypePrimitive, TagInteger, 7, "id"))
	entry := Encode(ClassApplication, TypeConstructed, 4, nil, "SearchResultEntry")
	entry.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, "uid=ada,ou=people,dc=example,dc=org", "dn"))
	attrs := NewSequence("attributes")
	for _, a := range []struct {
		name   string
		values []string
	}{{"uid", []string{"ada"}}, {"mail", []string{"ada@example.org", "a@example.org"}}, {"empty", []string{""}}} {
		attr := NewSequence("attribute")
		attr.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, a.name, "type"))
		vals := Encode(ClassUniversal, TypeConstructed, TagSet, nil, "vals")
		for _, v := range a.values {
			vals.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, v, "value"))
		}
		attr.AppendChild(vals)
		attrs.AppendChild(attr)
	}
	entry.AppendChild(attrs)
	msg.AppendChild(entry)
	return msg
}

// checkData checks what AppendChild keeps for packets it builds: the Data
// of a constructed packet is its children's encodings, one after another.
func checkData(t *testing.T, p *Packet, path string) {
	t.Helper()
	if p.TagType != TypeConstructed {
		return
	}
	var want []byte
	for i, c := range p.Children {
		want = append(want, c.Bytes()...)
		checkData(t, c, path+"/"+string(rune('0'+i)))
	}
	if !bytes.Equal(p.Data.Bytes(), want) {
		t.Errorf("%s: Data %x, want the children's encodings %x", path, p.Data.Bytes(), want)
	}
}

// The decoder reads each packet's content once and hands its children
// slices of it: Data, ByteValue, Value and the encoding come out as the
// copying decoder made them, from ReadPacket and DecodePacketErr alike.
func TestDecodedPacketsAreWhole(t *testing.T) {
	encoded := ldapEntry().Bytes()
	decoders := map[string]func([]byte) (*Packet, error){
		"DecodePacketErr": DecodePacketErr,
		"ReadPacket":      func(b []byte) (*Packet, error) { return ReadPacket(bytes.NewReader(b)) },
	}
	for name, decode := range decoders {
		p, err := decode(encoded)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := p.Bytes(); !bytes.Equal(got, encoded) {
			t.Fatalf("%s: re-encoded %x, want %x", name, got, encoded)
		}
		checkData(t, p, name)
		mail := p.Children[1].Children[1].Children[1]
		var got []string
		for _, v := range mail.Children[1].Children {
			got = append(got, v.Value.(string))
		}
		if want := []string{"ada@example.org", "a@example.org"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: mail values %q, want %q", name, got, want)
		}
		empty := p.Children[1].Children[1].Children[2].Children[1].Children[0]
		if empty.ByteValue == nil || len(empty.ByteValue) != 0 || empty.Value != "" {
			t.Errorf("%s: empty value ByteValue %#v Value %#v, want empty non-nil and \"\"", name, empty.ByteValue, empty.Value)
		}
	}
}

// A child's content is a slice of its parent's, capped at its own end:
// writing to a child's Data copies it rather than overwriting the sibling
// that follows in the parent's content.
func TestChildWritesStayInTheChild(t *testing.T) {
	encoded := ldapEntry().Bytes()
	p, err := ReadPacket(bytes.NewReader(encoded))
	if err != nil {
		t.Fatal(err)
	}
	entryContent := bytes.Clone(p.Children[1].Data.Bytes())
	uid := p.Children[1].Children[1].Children[0].Children[1].Children[0]
	uid.Data.Write([]byte("XXXXXXXXXXXXXXXX"))
	uid.ByteValue = append(uid.ByteValue, "YYYYYYYY"...)
	if got := p.Children[1].Data.Bytes(); !bytes.Equal(got, entryContent) {
		t.Errorf("the parent's content changed: %x, was %x", got, entryContent)
	}
	mail := p.Children[1].Children[1].Children[1].Children[1].Children[0]
	if mail.Value != "ada@example.org" || string(mail.ByteValue) != "ada@example.org" || mail.Data.String() != "ada@example.org" {
		t.Errorf("the next value changed: %q %q %q", mail.Value, mail.ByteValue, mail.Data.String())
	}
}

// Whatever decodes, re-encoded and decoded again, comes out the same. (A
// decoded packet's Data is its content as received: for input with long
// forms where short ones would do, such as Active Directory's four-byte
// lengths, that is not the children re-encoded, which upstream's Data is.)
func FuzzDecodeIsStable(f *testing.F) {
	f.Add(ldapEntry().Bytes())
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x05})
	f.Add([]byte{0x30, 0x80, 0x04, 0x01, 0x61, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodePacketErr(data)
		if err != nil {
			return
		}
		once := p.Bytes()
		q, err := ReadPacket(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("re-encoding %x of %x does not decode: %v", once, data, err)
		}
		if twice := q.Bytes(); !bytes.Equal(once, twice) {
			t.Fatalf("decode(encode(p)) encodes as %x, want %x", twice, once)
		}
	})
}

// appendHeader encodes as encodeIdentifier and encodeLength do, for short
// and high tags and every form of length.
func TestAppendHeader(t *testing.T) {
	for _, tag := range []Tag{0, 4, 30, 31, 127, 128, 16383, 1 << 20} {
		for _, n := range []int{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24} {
			p := Encode(ClassContext, TypeConstructed, tag, nil, "")
			p.Data.Write(make([]byte, n))
			want := append(encodeIdentifier(p.Identifier), encodeLength(n)...)
			if got := p.appendHeader(nil); !bytes.Equal(got, want) {
				t.Errorf("tag %d, length %d: header %x, want %x", tag, n, got, want)
			}
		}
	}
}

// BenchmarkReadEntry decodes an LDAP SearchResultEntry of 25 attributes
// from a buffered reader, as go-ldap reads one
// (go test -bench ReadEntry -benchmem).
func BenchmarkReadEntry(b *testing.B) {
	msg := NewSequence("LDAPMessage")
	msg.AppendChild(NewInteger(ClassUniversal, TypePrimitive, TagInteger, 7, "id"))
	entry := Encode(ClassApplication, TypeConstructed, 4, nil, "SearchResultEntry")
	entry.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, "uid=ada,ou=people,dc=example,dc=org", "dn"))
	attrs := NewSequence("attributes")
	for i := 0; i < 25; i++ {
		attr := NewSequence("attribute")
		attr.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, "attributeName", "type"))
		vals := Encode(ClassUniversal, TypeConstructed, TagSet, nil, "vals")
		vals.AppendChild(NewString(ClassUniversal, TypePrimitive, TagOctetString, "a value of some thirty bytes..", "value"))
		attr.AppendChild(vals)
		attrs.AppendChild(attr)
	}
	entry.AppendChild(attrs)
	msg.AppendChild(entry)
	encoded := msg.Bytes()
	r := bytes.NewReader(encoded)
	br := bufio.NewReader(r)
	b.SetBytes(int64(len(encoded)))
	for b.Loop() {
		r.Reset(encoded)
		br.Reset(r)
		if _, err := ReadPacket(br); err != nil {
			b.Fatal(err)
		}
	}
}
