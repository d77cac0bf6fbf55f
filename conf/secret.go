package conf

import "fmt"

// Secret holds key material (a pre-shared key or a manual SA key). It is a
// plain byte slice for every use except printing: fmt with any verb shows
// "[redacted]", so a stray log.Printf("%+v", cryptoMap) cannot leak keys.
type Secret []byte

// Format implements fmt.Formatter for every verb, including %x and %#v.
// There is no String method: fmt asks a Formatter first, nothing called
// String directly, and the method and its pointer wrapper were kept in the
// binary for nothing (flash).
func (s Secret) Format(f fmt.State, verb rune) {
	if len(s) == 0 {
		fmt.Fprint(f, "[]")
		return
	}
	fmt.Fprint(f, "[redacted]")
}

// Wipe zeroes the key material in place, for code that copied a key out
// of the configuration and is done with it.
func (s Secret) Wipe() { clear(s) }

// The structs that hold Secrets format themselves through a copy of a
// method-less twin type. Without these methods fmt prints a nested
// pointer with a verb such as %s through its error path, which bypasses
// Secret.Format and would show the raw bytes.
type (
	plainCryptoMap    CryptoMap
	plainManualKeys   ManualKeys
	plainKeyringEntry KeyringEntry
)

// Format implements fmt.Formatter: what the entry matches, key redacted.
func (e KeyringEntry) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainKeyringEntry(e))
}

// Format implements fmt.Formatter: every field, keys redacted.
func (m CryptoMap) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainCryptoMap(m))
}

// Format implements fmt.Formatter: SPIs, keys redacted.
func (k ManualKeys) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainManualKeys(k))
}
