package munge

import (
	"bytes"
	"compress/bzip2"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
)

// Armor wraps raw credential bytes (OUTER || MAC || INNER) as munged does:
// "MUNGE:", standard base64 with padding and no line breaks, ":".
func Armor(raw []byte) string {
	return Prefix + base64.StdEncoding.EncodeToString(raw) + Suffix
}

// Unarmor undoes Armor with munged's tolerance: it skips leading white
// space, requires the prefix, takes the base64 text up to the last ":",
// ignores white space inside it and checks the padding. Failures are
// BadArg (nothing there) or BadCred, with munged's messages.
func Unarmor(text string) ([]byte, error) {
	// libmunge sends the credential as a C string.
	if i := strings.IndexByte(text, 0); i >= 0 {
		text = text[:i]
	}
	text = strings.TrimLeft(text, " \t\n\v\f\r")
	if text == "" {
		return nil, mkerr(BadArg, "No credential specified")
	}
	if !strings.HasPrefix(text, Prefix) {
		return nil, mkerr(BadCred, "Failed to match armor prefix")
	}
	body := text[len(Prefix):]
	end := strings.LastIndex(body, Suffix)
	if end < 0 {
		return nil, mkerr(BadCred, "Failed to match armor suffix")
	}
	raw, ok := decodeBase64(body[:end])
	if !ok {
		return nil, mkerr(BadCred, "Failed to base64-decode credential")
	}
	return raw, nil
}

// decodeBase64 follows munged's decoder rather than encoding/base64: the
// six C white-space characters are skipped anywhere; at most two '='
// may appear and nothing but white space or '=' may follow the first; the
// total of data and pad characters must be a multiple of four. Unused low
// bits of the last character are not checked.
func decodeBase64(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s)*3/4+1)
	var acc uint32
	n, pad := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			continue
		case '=':
			if pad < 2 {
				pad++
				continue
			}
			return nil, false
		}
		v, ok := b64val(c)
		if !ok || pad > 0 {
			return nil, false
		}
		acc = acc<<6 | uint32(v)
		n++
		if n%4 == 0 {
			out = append(out, byte(acc>>16), byte(acc>>8), byte(acc))
			acc = 0
		}
	}
	if (n+pad)%4 != 0 {
		return nil, false
	}
	switch n % 4 {
	case 2:
		out = append(out, byte(acc>>4))
	case 3:
		out = append(out, byte(acc>>10), byte(acc>>2))
	}
	return out, true
}

func b64val(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '+':
		return 62, true
	case c == '/':
		return 63, true
	}
	return 0, false
}

// zipMagic starts the 8-byte header munged puts before compressed data.
const zipMagic = 0xCACACACA

// ErrBzlibEncode: Go's standard library can read bzip2 but not write it.
var ErrBzlibEncode = errors.New("munge: bzlib compression is not implemented (Go has no bzip2 encoder); use zlib or none")

// compress returns the 8-byte header followed by the compressed data.
func compress(z Zip, data []byte) ([]byte, error) {
	if z == ZipBzlib {
		return nil, ErrBzlibEncode
	}
	var buf bytes.Buffer
	buf.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, zipMagic), uint32(len(data))))
	w := zlib.NewWriter(&buf) // compress(): default level, RFC 1950 framing
	w.Write(data)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decompress mirrors munged's zip_decompress_* with its asserts compiled
// out, as Debian builds it. A missing header, wrong magic or a length that
// is not a positive C int is Snafu ("Failed to decompress credential"); a
// stream that is corrupt or would exceed the header's length is
// CredInvalid. The header length is only an upper bound: like zlib's
// uncompress(), a shorter result is accepted, and input after the end of
// the compressed stream is ignored.
func decompress(z Zip, in []byte) ([]byte, *Error) {
	if len(in) < 8 || binary.BigEndian.Uint32(in) != zipMagic {
		return nil, mkerr(Snafu, "Failed to decompress credential")
	}
	size := binary.BigEndian.Uint32(in[4:])
	if size == 0 || size > math.MaxInt32 {
		return nil, mkerr(Snafu, "Failed to decompress credential")
	}
	var r io.Reader
	src := bytes.NewReader(in[8:])
	switch z {
	case ZipZlib:
		zr, err := zlib.NewReader(src)
		if err != nil {
			return nil, mkerr(CredInvalid, "")
		}
		r = zr
	case ZipBzlib:
		r = bzip2.NewReader(src)
	default:
		return nil, mkerr(Snafu, "Failed to decompress credential")
	}
	// Read at most size bytes without trusting size for the allocation.
	var out bytes.Buffer
	if _, err := io.Copy(&out, io.LimitReader(r, int64(size))); err != nil {
		return nil, mkerr(CredInvalid, "")
	}
	if uint32(out.Len()) == size {
		// A full buffer is fine only if the stream ends here, checksum
		// included.
		var probe [1]byte
		if _, err := io.ReadFull(r, probe[:]); err != io.EOF {
			return nil, mkerr(CredInvalid, "")
		}
	}
	return out.Bytes(), nil
}
