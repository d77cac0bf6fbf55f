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
		i := c.find("t", name)
		if i < 0 {
			c.note(&b.head, "mode for an undefined transform set")
			return
		}
		c.transformMode(&c.tsets[i], &b.head, args[2:])
		return
	}
	// Built here and stored whole at the end: the fields of a list
	// element would each be written with a write barrier (flash).
	ts := transformSet{name: name, line: b.head.num, mode: "tunnel"}
	t := args[1:]
	for i := 0; i < len(t); i++ {
		tok := strings.ToLower(t[i])
		// A key size is a word of its own ("esp-aes 256"): an entry
		// of the two words wins over one of the first.
		two := ""
		if i+1 < len(t) {
			two = tok + " " + t[i+1]
		}
		var tw *transformWord
		words := 1
		for j := range transformWords {
			if w := &transformWords[j]; w.word == two {
				tw, words = w, 2
				break
			} else if w.word == tok && tw == nil {
				tw = w
			}
		}
		i += words - 1
		switch {
		case tw == nil:
			c.note(&b.head, "transform "+t[i]+" is not supported; the transform set is not carried over")
			ts.bad = true
			continue
		case tw.slot == slotRefused:
			ts.bad = true
			fallthrough
		case tw.slot == slotNote:
			c.note(&b.head, tw.value)
			continue
		case isWord(weakTransforms[:], tw.value):
			c.weak(&b.head, tok)
		}
		switch tw.slot {
		case slotESP:
			ts.esp = tw.value
		case slotESPAuth:
			ts.espAuth = tw.value
		case slotAH:
			ts.ah = tw.value
		}
	}
	aead := strings.HasSuffix(ts.esp, "gcm16")
	switch {
	case ts.bad:
	case ts.esp == "" && ts.ah == "":
		c.note(&b.head, "neither ESP nor AH; the transform set is not carried over")
		ts.bad = true
	case ts.esp != "" && !aead && ts.espAuth == "":
		c.note(&b.head, "ESP without integrity is refused by tinyipsec (add an esp-*-hmac); the transform set is not carried over")
		ts.bad = true
	case aead && ts.espAuth != "":
		c.note(&b.head, "an AES-GCM transform carries its own integrity; the esp-*-hmac is dropped")
		ts.espAuth = ""
	}
	for i := range b.children {
		ch := &b.children[i]
		if hasPrefix(ch.toks, "mode") {
			c.transformMode(&ts, ch, ch.toks[1:])
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

// modes are the modes of a transform set, in Cisco's and tinyipsec's words.
var modes = [...]string{"tunnel", "transport"}

func (c *converter) transformMode(ts *transformSet, l *line, args []string) {
	if len(args) == 0 {
		c.note(l, "mode without a value")
		return
	}
	switch m := strings.ToLower(args[0]); {
	case isWord(modes[:], m):
		ts.mode = m
		if len(args) > 1 {
			c.note(l, "the "+args[1]+" option has no tinyipsec equivalent")
		}
	default:
		c.note(l, "mode "+args[0]+" is not supported")
	}
}

// transformWord is a transform word of a transform set (with its key
// size when that is a word of its own) and what it sets.
type transformWord struct {
	word  string
	slot  uint8
	value string // tinyipsec's name (weakTransforms are weak); the note for slotNote and slotRefused
}

const (
	slotESP = iota
	slotESPAuth
	slotAH
	slotNone    // a word that sets nothing
	slotNote    // left out with a note, the rest carried over
	slotRefused // the transform set is not carried over
)

// weakTransforms are the values of transformWords that need allow_weak.
var weakTransforms = [...]string{"des", "md5"}

// transformWords: a static table rather than a switch whose cases each
// compare inline (flash). IOS says "sha" for SHA-1; esp-aes and esp-gcm
// are AES-128 when no key size follows.
var transformWords = [...]transformWord{
	{"esp-aes", slotESP, "aes128"},
	{"esp-aes 128", slotESP, "aes128"},
	{"esp-aes 192", slotESP, "aes192"},
	{"esp-aes 256", slotESP, "aes256"},
	{"esp-gcm", slotESP, "aes128gcm16"},
	{"esp-gcm 128", slotESP, "aes128gcm16"},
	{"esp-gcm 192", slotRefused, "AES-GCM with 192-bit keys is not supported; the transform set is not carried over"},
	{"esp-gcm 256", slotESP, "aes256gcm16"},
	{"esp-none", slotNone, ""}, // ASA: ESP without integrity; only valid with an AEAD here
	{"comp-lzs", slotNote, "IPComp (comp-lzs) is not supported; the rest of the transform set is carried over"},
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
