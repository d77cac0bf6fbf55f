package ike

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// dnAttributes are the attribute names admins write in DN strings
// (strongSwan / OpenSSL style, any case) with their object identifiers.
// A table searched with EqualFold rather than a map keyed by upper case:
// static data instead of a map built at start, and no strings.ToUpper
// (flash).
var dnAttributes = []struct {
	name string
	oid  asn1.ObjectIdentifier
}{
	{"C", asn1.ObjectIdentifier{2, 5, 4, 6}},
	{"ST", asn1.ObjectIdentifier{2, 5, 4, 8}},
	{"L", asn1.ObjectIdentifier{2, 5, 4, 7}},
	{"STREET", asn1.ObjectIdentifier{2, 5, 4, 9}},
	{"O", asn1.ObjectIdentifier{2, 5, 4, 10}},
	{"OU", asn1.ObjectIdentifier{2, 5, 4, 11}},
	{"CN", asn1.ObjectIdentifier{2, 5, 4, 3}},
	{"SN", asn1.ObjectIdentifier{2, 5, 4, 4}},
	{"SERIALNUMBER", asn1.ObjectIdentifier{2, 5, 4, 5}},
	{"T", asn1.ObjectIdentifier{2, 5, 4, 12}},
	{"E", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}},
	{"EMAIL", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}},
	{"EMAILADDRESS", asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}},
	{"DC", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}},
	{"UID", asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}},
}

// ParseDN encodes a distinguished name written as "C=CH, O=Example,
// CN=host" (RDNs in the order written, as strongSwan and Cisco show them;
// "\," escapes a comma, ',' or '/' separates components) into DER for an
// ID_DER_ASN1_DN payload.
func ParseDN(s string) ([]byte, error) {
	var rdns pkix.RDNSequence
	var cur []byte
	for i := 0; i <= len(s); i++ {
		switch {
		case i < len(s) && s[i] == '\\' && i+1 < len(s):
			i++
			cur = append(cur, s[i])
			continue
		case i < len(s) && s[i] != ',' && s[i] != '/':
			cur = append(cur, s[i])
			continue
		}
		// A component ends here, at a separator or the end.
		part := strings.TrimSpace(string(cur))
		cur = cur[:0]
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("ike: DN component %q lacks '='", part)
		}
		var oid asn1.ObjectIdentifier
		for _, a := range dnAttributes {
			if strings.EqualFold(a.name, strings.TrimSpace(k)) {
				oid = a.oid
				break
			}
		}
		if oid == nil {
			return nil, fmt.Errorf("ike: unknown DN attribute %q", k)
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: strings.TrimSpace(v)}})
	}
	if len(rdns) == 0 {
		return nil, fmt.Errorf("ike: empty DN %q", s)
	}
	return asn1.Marshal(rdns)
}
