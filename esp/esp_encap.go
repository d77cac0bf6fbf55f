package esp

func (sa *OutboundSA) encap(buf []byte, off, n int) (start, end int, err error) {
	return 0, 0, ErrProto
}
