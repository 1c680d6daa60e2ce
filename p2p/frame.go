package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WriteFrame writes payload to w as one frame: the payload length as an
// unsigned varint followed by the payload bytes. The frame is handed to w in
// a single Write call, so concurrent writers on a stream must still be
// serialised by the caller, but a frame is never split by this function.
func WriteFrame(w io.Writer, payload []byte) error {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(payload))
	buf = binary.AppendUvarint(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("p2p: writing frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame written by [WriteFrame] from r and returns its
// payload (an empty, non-nil slice for an empty frame).
//
// The declared length is checked against max before any buffer is
// allocated: a larger frame yields an error wrapping [ErrFrameTooLarge]. A
// length prefix that overflows 64 bits or is not minimally encoded yields an
// error wrapping [ErrMalformedFrame]. If r is exhausted before the first byte
// of a frame, ReadFrame returns io.EOF itself (a clean end of stream); if it
// ends mid-frame, the error wraps io.ErrUnexpectedEOF.
//
// ReadFrame never reads past the end of the frame, so several frames can be
// read in turn from the same reader. If r implements io.ByteReader (a
// *bufio.Reader, say) the length prefix is read through it; otherwise it is
// read one byte at a time, which is correct but slower: wrap raw network
// streams in a bufio.Reader when reading many frames.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	n, err := readUvarint(asByteReader(r))
	if err != nil {
		return nil, err
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: declared %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("p2p: reading frame payload (%d bytes): %w", n, err)
	}
	return payload, nil
}

// readUvarint decodes a minimally encoded unsigned LEB128 varint.
func readUvarint(br io.ByteReader) (uint64, error) {
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := br.ReadByte()
		if err != nil {
			if i == 0 && errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("p2p: reading frame length: %w", err)
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformedFrame)
			}
			if b == 0 && i > 0 {
				return 0, fmt.Errorf("%w: length is not minimally encoded", ErrMalformedFrame)
			}
			return x | uint64(b)<<shift, nil
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, fmt.Errorf("%w: length overflows 64 bits", ErrMalformedFrame)
}

// asByteReader returns r itself when it can read single bytes, or a wrapper
// that reads exactly one byte per call (never buffering past the frame).
func asByteReader(r io.Reader) io.ByteReader {
	if br, ok := r.(io.ByteReader); ok {
		return br
	}
	return &oneByteReader{r: r}
}

type oneByteReader struct {
	r   io.Reader
	buf [1]byte
}

func (o *oneByteReader) ReadByte() (byte, error) {
	if _, err := io.ReadFull(o.r, o.buf[:]); err != nil {
		return 0, err
	}
	return o.buf[0], nil
}
