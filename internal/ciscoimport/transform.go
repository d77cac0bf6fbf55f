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

var aesKeySizes = [...]string{"128", "192", "256"}

// transformSet reads the IOS form (mode as a sub-line) and the ASA form
// (mode as "crypto ipsec ikev1 transform-set NAME mode transport").
func (c *converter) transformSet(b *block, args []string) {
	if len(args) < 2 {
		c.noteBlock(b, "transform set without transforms")
		return
	}
	name := args[0]
	if hasPrefix(args[1:], "mode") {
		i := c.find("t", name)
		if i < 0 {
			c.note(&b.head, "mode for an undefined transform set")
			return
		}
		c.transformMode(c.tsets[i], &b.head, args[2:])
		return
	}
	ts := &transformSet{name: name, line: b.head.num, mode: "tunnel"}
	t := args[1:]
	for i := 0; i < len(t); i++ {
		tok := strings.ToLower(t[i])
		size := ""
		if i+1 < len(t) && isWord(aesKeySizes[:], t[i+1]) {
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
			continue
		case "esp-none":
			// ASA: ESP without integrity; only valid with an AEAD here.
			continue
		case "comp-lzs":
			c.note(&b.head, "IPComp (comp-lzs) is not supported; the rest of the transform set is carried over")
			continue
		}
		var tw *transformWord
		for j := range transformWords {
			if transformWords[j].word == tok {
				tw = &transformWords[j]
				break
			}
		}
		if tw == nil {
			c.note(&b.head, "transform "+t[i]+" is not supported; the transform set is not carried over")
			ts.bad = true
			continue
		}
		if tw.value == "des" || tw.value == "md5" {
			c.weak(&b.head, tok)
		}
		switch tw.slot {
		case slotESP:
			ts.esp = tw.value
		case slotESPAuth:
			ts.espAuth = tw.value
		default:
			ts.ah = tw.value
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
	if i, isNew := c.slot("t", name, len(c.tsets)); isNew {
		c.tsets = append(c.tsets, ts)
	} else {
		c.tsets[i] = ts
	}
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

// transformWord is a transform that sets one algorithm of a transform
// set (esp-aes and esp-gcm, which take a key size, are read in code).
type transformWord struct {
	word  string
	slot  uint8
	value string // tinyipsec's name; des and md5 are weak
}

const (
	slotESP = iota
	slotESPAuth
	slotAH
)

// transformWords: a static table rather than a switch whose cases each
// compare inline (flash). IOS says "sha" for SHA-1.
var transformWords = [...]transformWord{
	{"esp-aes-192", slotESP, "aes192"},
	{"esp-aes-256", slotESP, "aes256"},
	{"esp-3des", slotESP, "3des"},
	{"esp-des", slotESP, "des"},
	{"esp-null", slotESP, "null"},
	{"esp-sha-hmac", slotESPAuth, "sha1"},
	{"esp-sha256-hmac", slotESPAuth, "sha256"},
	{"esp-sha384-hmac", slotESPAuth, "sha384"},
	{"esp-sha512-hmac", slotESPAuth, "sha512"},
	{"esp-md5-hmac", slotESPAuth, "md5"},
	{"ah-sha-hmac", slotAH, "sha1"},
	{"ah-sha256-hmac", slotAH, "sha256"},
	{"ah-sha384-hmac", slotAH, "sha384"},
	{"ah-sha512-hmac", slotAH, "sha512"},
	{"ah-md5-hmac", slotAH, "md5"},
}
