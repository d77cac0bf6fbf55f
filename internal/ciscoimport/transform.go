package ciscoimport

import "strings"

// transformSet is "crypto ipsec [ikev1] transform-set NAME T1 [T2 [T3]]".
type transformSet struct {
	_       [0]func() // not comparable: no generated == function (flash)
	name    string
	line    int
	esp     string
	espAuth string
	ah      string
	mode    string
	bad     bool
}

// transformSet reads the IOS form (mode as a sub-line) and the ASA form
// (mode as "crypto ipsec ikev1 transform-set NAME mode transport").
func (c *converter) transformSet(b *block, args []string) {
	if len(args) < 2 {
		c.noteBlock(b, "transform set without transforms")
		return
	}
	name := args[0]
	if hasPrefix(args[1:], "mode") {
		ts := c.transforms[name]
		if ts == nil {
			c.note(&b.head, "mode for an undefined transform set")
			return
		}
		c.transformMode(ts, &b.head, args[2:])
		return
	}
	ts := &transformSet{name: name, line: b.head.num, mode: "tunnel"}
	t := args[1:]
	for i := 0; i < len(t); i++ {
		tok := strings.ToLower(t[i])
		size := ""
		if i+1 < len(t) && (t[i+1] == "128" || t[i+1] == "192" || t[i+1] == "256") {
			size = t[i+1]
		}
		switch tok {
		case "esp-aes", "esp-gcm":
			if size == "" {
				size = "128"
			} else {
				i++
			}
			if tok == "esp-gcm" {
				if size == "192" {
					c.note(&b.head, "AES-GCM with 192-bit keys is not supported; the transform set is not carried over")
					ts.bad = true
				}
				ts.esp = "aes" + size + "gcm16"
			} else {
				ts.esp = "aes" + size
			}
		case "esp-aes-192", "esp-aes-256":
			ts.esp = "aes" + tok[8:]
		case "esp-3des":
			ts.esp = "3des"
		case "esp-des":
			ts.esp = "des"
			c.weak(&b.head, tok)
		case "esp-null":
			ts.esp = "null"
		case "esp-sha-hmac", "esp-sha256-hmac", "esp-sha384-hmac", "esp-sha512-hmac", "esp-md5-hmac":
			ts.espAuth = c.hmac(&b.head, tok)
		case "ah-sha-hmac", "ah-sha256-hmac", "ah-sha384-hmac", "ah-sha512-hmac", "ah-md5-hmac":
			ts.ah = c.hmac(&b.head, tok)
		case "esp-none":
			// ASA: ESP without integrity; only valid with an AEAD here.
		case "comp-lzs":
			c.note(&b.head, "IPComp (comp-lzs) is not supported; the rest of the transform set is carried over")
		default:
			c.note(&b.head, "transform "+t[i]+" is not supported; the transform set is not carried over")
			ts.bad = true
		}
	}
	switch {
	case ts.bad:
	case ts.esp == "" && ts.ah == "":
		c.note(&b.head, "neither ESP nor AH; the transform set is not carried over")
		ts.bad = true
	case ts.esp != "" && !strings.HasSuffix(ts.esp, "gcm16") && ts.espAuth == "":
		c.note(&b.head, "ESP without integrity is refused by tinyipsec (add an esp-*-hmac); the transform set is not carried over")
		ts.bad = true
	case strings.HasSuffix(ts.esp, "gcm16") && ts.espAuth != "":
		c.note(&b.head, "an AES-GCM transform carries its own integrity; the esp-*-hmac is dropped")
		ts.espAuth = ""
	}
	for i := range b.children {
		ch := &b.children[i]
		if hasPrefix(ch.toks, "mode") {
			c.transformMode(ts, ch, ch.toks[1:])
		} else {
			c.note(ch, "no tinyipsec equivalent")
		}
	}
	if _, dup := c.transforms[name]; !dup {
		c.tsOrder = append(c.tsOrder, name)
	}
	c.transforms[name] = ts
}

func (c *converter) transformMode(ts *transformSet, l *line, args []string) {
	if len(args) == 0 {
		c.note(l, "mode without a value")
		return
	}
	switch m := strings.ToLower(args[0]); m {
	case "tunnel", "transport":
		ts.mode = m
		if len(args) > 1 {
			c.note(l, "the "+args[1]+" option has no tinyipsec equivalent")
		}
	default:
		c.note(l, "mode "+args[0]+" is not supported")
	}
}

// hmac is the integrity algorithm of an esp-*-hmac or ah-*-hmac
// transform (IOS says "sha" for SHA-1); MD5 is noted as weak.
func (c *converter) hmac(l *line, tok string) string {
	_, alg, _ := strings.Cut(strings.TrimSuffix(tok, "-hmac"), "-")
	switch alg {
	case "sha":
		return "sha1"
	case "md5":
		c.weak(l, tok)
	}
	return alg
}
