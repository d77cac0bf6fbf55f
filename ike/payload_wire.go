package ike

import "fmt"

// builder appends the wire form of a message (each payload's fixed
// fields written as the bytes they are), generic payload headers whose length is
// filled in once the body is written, and the first error met (a length
// that does not fit its field, a Delete with SPIs of mixed sizes). It
// does the job cryptobyte.Builder did here without its length-prefix
// continuations (flash).
type builder struct {
	buf []byte
	err error
}

func (b *builder) add(v []byte) { b.buf = append(b.buf, v...) }

// fail records err unless an earlier error is recorded.
func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// open starts a payload (or proposal, or transform) whose generic header
// names next as the following one; close fills in its length, which
// ISAKMP counts with the 4-byte header, once the body is written.
func (b *builder) open(next uint8) int {
	at := len(b.buf)
	b.buf = append(b.buf, next, 0, 0, 0)
	return at
}

func (b *builder) close(at int) {
	n := len(b.buf) - at
	if n > 0xffff {
		b.fail(fmt.Errorf("ike: payload too long (%d bytes)", n))
	}
	b.buf[at+2], b.buf[at+3] = byte(n>>8), byte(n)
}

// bytesOrPanic returns what was written; it is for bodies that cannot
// fail (an ID, our own SA offer and attribute lists, built from
// validated configuration).
func (b *builder) bytesOrPanic() []byte {
	if b.err != nil {
		panic(b.err)
	}
	return b.buf
}

// wire is (part of) a received message being parsed: each parser checks
// the length it needs, then reads its fields at their offsets (as
// gVisor's header package does), instead of a reader call per field.
type wire []byte
