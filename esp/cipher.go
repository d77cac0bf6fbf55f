package esp

// ivSetter is implemented by the CBC modes of crypto/cipher; it lets one
// BlockMode be reused for every packet instead of allocating a new one.
type ivSetter interface{ SetIV([]byte) }
