package p2p

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", []byte{}},
		{"one byte", []byte{0x42}},
		{"127 bytes (1-byte prefix)", bytes.Repeat([]byte{'a'}, 127)},
		{"128 bytes (2-byte prefix)", bytes.Repeat([]byte{'b'}, 128)},
		{"1 MiB", bytes.Repeat([]byte{'c'}, 1<<20)},
		{"exactly MaxFrame", make([]byte, MaxFrame)},
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"bytes.Reader", func(r io.Reader) io.Reader { return r }},
		{"bufio", func(r io.Reader) io.Reader { return bufio.NewReader(r) }},
		{"one byte at a time", iotest.OneByteReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WriteFrame(&buf, tt.payload); err != nil {
					t.Fatalf("WriteFrame: %v", err)
				}
				if err := WriteFrame(&buf, []byte("next")); err != nil {
					t.Fatalf("WriteFrame: %v", err)
				}
				r := rd.wrap(bytes.NewReader(buf.Bytes()))
				got, err := ReadFrame(r, MaxFrame)
				if err != nil {
					t.Fatalf("ReadFrame: %v", err)
				}
				if got == nil || !bytes.Equal(got, tt.payload) {
					t.Fatalf("payload mismatch: got %d bytes, want %d", len(got), len(tt.payload))
				}
				// ReadFrame must not have consumed the next frame.
				next, err := ReadFrame(r, MaxFrame)
				if err != nil || string(next) != "next" {
					t.Fatalf("second frame = %q, %v; want \"next\"", next, err)
				}
				if _, err := ReadFrame(r, MaxFrame); err != io.EOF {
					t.Fatalf("after last frame err = %v, want io.EOF", err)
				}
			})
		}
	}
}

func TestReadFrameErrors(t *testing.T) {
	huge := binary.AppendUvarint(nil, 1<<62) // would be an impossible allocation
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"too large by one", append(binary.AppendUvarint(nil, 11), make([]byte, 11)...), 10, ErrFrameTooLarge},
		{"huge declared length, no payload", huge, MaxFrame, ErrFrameTooLarge},
		{"negative max", []byte{1, 'x'}, -5, ErrFrameTooLarge},
		{"varint overflows 64 bits", bytes.Repeat([]byte{0xff}, 11), MaxFrame, ErrMalformedFrame},
		{"10th byte too big", append(bytes.Repeat([]byte{0xff}, 9), 0x02), MaxFrame, ErrMalformedFrame},
		{"non-minimal zero", []byte{0x80, 0x00}, MaxFrame, ErrMalformedFrame},
		{"non-minimal one", []byte{0x81, 0x80, 0x00}, MaxFrame, ErrMalformedFrame},
		{"truncated varint", []byte{0x80}, MaxFrame, io.ErrUnexpectedEOF},
		{"truncated payload", []byte{5, 'a', 'b'}, MaxFrame, io.ErrUnexpectedEOF},
		{"empty input", nil, MaxFrame, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tt.input), tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFrame error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("ReadFrame returned %d bytes along with an error", len(got))
			}
		})
	}
}

func TestReadFrameTooLargeDoesNotAllocatePayload(t *testing.T) {
	input := binary.AppendUvarint(nil, 1<<40)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = ReadFrame(bytes.NewReader(input), 1024)
	})
	// The reader and the error value allocate; a 1 TiB payload buffer would
	// not survive at all, but make sure nothing size-dependent sneaks in.
	if allocs > 6 {
		t.Fatalf("ReadFrame allocated %.0f times for a rejected frame", allocs)
	}
}

func TestWriteFrameError(t *testing.T) {
	err := WriteFrame(errWriter{}, []byte("x"))
	if !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("WriteFrame error = %v, want io.ErrClosedPipe", err)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func FuzzReadFrame(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{0},
		{1, 'a'},
		{0x80, 0x01},
		{0x80, 0x00},
		bytes.Repeat([]byte{0xff}, 11),
		append(binary.AppendUvarint(nil, 300), make([]byte, 300)...),
		binary.AppendUvarint(nil, 1<<40),
	} {
		f.Add(seed)
	}
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		payload, err := ReadFrame(r, limit)
		if err != nil {
			if payload != nil {
				t.Fatalf("payload returned with error %v", err)
			}
			switch {
			case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF),
				errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrMalformedFrame):
			default:
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(payload) > limit {
			t.Fatalf("payload of %d bytes exceeds limit %d", len(payload), limit)
		}
		// A decoded frame re-encodes to exactly the bytes consumed.
		consumed := data[:len(data)-r.Len()]
		var buf bytes.Buffer
		if err := WriteFrame(&buf, payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), consumed) {
			t.Fatalf("re-encoding %x gives %x", consumed, buf.Bytes())
		}
	})
}
