package ike

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// dnAttributeOIDs maps the attribute names admins write in DN strings
// (strongSwan / OpenSSL style) to their object identifiers.
var dnAttributeOIDs = map[string]asn1.ObjectIdentifier{
	"C":            {2, 5, 4, 6},
	"ST":           {2, 5, 4, 8},
	"L":            {2, 5, 4, 7},
	"STREET":       {2, 5, 4, 9},
	"O":            {2, 5, 4, 10},
	"OU":           {2, 5, 4, 11},
	"CN":           {2, 5, 4, 3},
	"SN":           {2, 5, 4, 4},
	"SERIALNUMBER": {2, 5, 4, 5},
	"T":            {2, 5, 4, 12},
	"E":            {1, 2, 840, 113549, 1, 9, 1},
	"EMAIL":        {1, 2, 840, 113549, 1, 9, 1},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
	"DC":           {0, 9, 2342, 19200300, 100, 1, 25},
	"UID":          {0, 9, 2342, 19200300, 100, 1, 1},
}

// ParseDN encodes a distinguished name written as "C=CH, O=Example,
// CN=host" (RDNs in the order written, as strongSwan and Cisco show them;
// "\," escapes a comma) into DER for an ID_DER_ASN1_DN payload.
func ParseDN(s string) ([]byte, error) {
	var rdns pkix.RDNSequence
	for _, part := range splitDN(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("ike: DN component %q lacks '='", part)
		}
		oid, ok := dnAttributeOIDs[strings.ToUpper(strings.TrimSpace(k))]
		if !ok {
			return nil, fmt.Errorf("ike: unknown DN attribute %q", k)
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: strings.TrimSpace(v)}})
	}
	if len(rdns) == 0 {
		return nil, fmt.Errorf("ike: empty DN %q", s)
	}
	return asn1.Marshal(rdns)
}

func splitDN(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ',' || s[i] == '/':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}
