package schema

import (
	"testing"
	"time"
)

func TestParseGeneralizedTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "20261122231440Z", want: time.Date(2026, 11, 22, 23, 14, 40, 0, time.UTC)},
		{in: "20261122231440.5Z", want: time.Date(2026, 11, 22, 23, 14, 40, 5e8, time.UTC)},
		{in: "202611222314Z", want: time.Date(2026, 11, 22, 23, 14, 0, 0, time.UTC)},
		{in: "2026112223Z", want: time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)},
		{in: "20261122231440+0100", want: time.Date(2026, 11, 22, 22, 14, 40, 0, time.UTC)},
		{in: "20261122231440-0230", want: time.Date(2026, 11, 23, 1, 44, 40, 0, time.UTC)},
		{in: "", bad: true},
		{in: "20261122231440", bad: true},
		{in: "2026112223144Z", bad: true},
		{in: "20261322231440Z", bad: true},
		{in: "20261122231440+01", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseGeneralizedTime(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseGeneralizedTime(%q) = %v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseGeneralizedTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
