package esp

func (sa *InboundSA) decap(buf []byte, start, end int) (off, n int, err error) {
	return 0, 0, ErrProto
}
