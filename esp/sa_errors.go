package esp

// Error is the reason a packet was not processed. The values are small
// integer constants, so returning and comparing them never allocates, and
// they double as indexes into Stats.Drops.
type Error uint8

const (
	ErrTruncated Error = iota + 1 // shorter than its headers, or inconsistent length fields
	ErrProto                      // not ESP/AH for this SA, IP fragment, unsupported header or inner protocol
	ErrSPI                        // SPI does not belong to this SA
	ErrReplay                     // duplicate or too old (outside the anti-replay window)
	ErrAuth                       // integrity check (ICV) failed
	ErrPadding                    // bad ESP padding, pad length or cipher block alignment
	ErrPolicy                     // inner packet does not match the SA's traffic selector
	ErrExpired                    // hard lifetime reached or sequence numbers exhausted
	ErrDummy                      // ESP dummy packet (next header 59), dropped silently by design
	ErrNoRoom                     // caller's buffer lacks the headroom or tailroom
	ErrTooBig                     // result would exceed the maximum IP packet size

	numErrors
)

var errorText = [numErrors]string{
	ErrTruncated: "truncated or malformed packet",
	ErrProto:     "unexpected protocol or header",
	ErrSPI:       "unknown SPI",
	ErrReplay:    "replayed packet",
	ErrAuth:      "integrity check failed",
	ErrPadding:   "bad padding",
	ErrPolicy:    "inner packet violates the SA's traffic selector",
	ErrExpired:   "SA expired",
	ErrDummy:     "dummy packet",
	ErrNoRoom:    "not enough buffer headroom or tailroom",
	ErrTooBig:    "packet too big after encapsulation",
}

func (e Error) Error() string {
	if e == 0 || e >= numErrors {
		return "esp: unknown error"
	}
	return "esp: " + errorText[e]
}

// NumErrors bounds the Error values: every Error e satisfies 0 < e < NumErrors.
const NumErrors = int(numErrors)
