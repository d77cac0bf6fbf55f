package acl

// Classifier picks the crypto map entry that protects an outbound packet.
//
// Entries are evaluated in crypto map order ((name, seq), as the caller
// sorted them). Within an entry's ACL, IOS semantics apply: a permit means
// "protect with this entry", a deny (or falling off the end) means only
// "not this entry" and evaluation moves on to the next entry; it does not
// mean "send in clear". The first permit wins. A packet that no entry
// permits is not protected; whether it then goes out in clear or is
// dropped is the data plane's policy, not the ACL's.
type Classifier struct {
	lists []*List
}

// NewClassifier returns a classifier over the entries' ACLs, index i being
// crypto map entry i. A nil list (an entry without an ACL) never matches.
func NewClassifier(lists []*List) *Classifier {
	return &Classifier{lists: append([]*List(nil), lists...)}
}

// Classify returns the entry and the rule in its ACL that permit pkt. ok is
// false, with entry and rule -1, when no entry permits it or the packet is
// too malformed to classify. The packet is parsed once for all entries.
func (c *Classifier) Classify(pkt []byte) (entry int, rule int, ok bool) {
	var k pktKey
	if !parseKey(pkt, &k) {
		return -1, -1, false
	}
	return c.classify(&k)
}

// ClassifyTuple is Classify for an already parsed packet.
func (c *Classifier) ClassifyTuple(t Tuple) (entry int, rule int, ok bool) {
	var k pktKey
	if !tupleKey(&t, &k) {
		return -1, -1, false
	}
	return c.classify(&k)
}

func (c *Classifier) classify(k *pktKey) (int, int, bool) {
	for i, l := range c.lists {
		if r, permit := l.match(k); permit {
			return i, r, true
		}
	}
	return -1, -1, false
}

// Len returns the number of entries.
func (c *Classifier) Len() int { return len(c.lists) }
