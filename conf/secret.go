package conf

import "fmt"

// Secret holds key material (a pre-shared key or a manual SA key). It is a
// plain byte slice for every use except printing: fmt with any verb shows
// "[redacted]", so a stray log.Printf("%+v", cryptoMap) cannot leak keys.
type Secret []byte

// Format implements fmt.Formatter for every verb, including %x and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	if len(s) == 0 {
		fmt.Fprint(f, "[]")
		return
	}
	fmt.Fprint(f, "[redacted]")
}

// String is for code that calls it directly rather than through fmt.
func (s Secret) String() string {
	if len(s) == 0 {
		return "[]"
	}
	return "[redacted]"
}
