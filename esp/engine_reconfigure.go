package esp

import (
	"errors"
	"fmt"
)

// Reconfiguration (hot reload): the policy entries and the classifier that
// indexes them form one immutable table behind an atomic pointer. A reload
// builds a new table and swaps it in; an entry whose ID (crypto map
// "name/seq") is in both tables is the same *entry object in both, so its
// installed pairs, waiting packets and counters carry over to its new
// position without being touched. The outbound loop reads the pointer once
// per batch: no lock and no allocation on the packet path, and no packet
// of an unchanged entry is dropped by the swap.

// policyTable is the classifier and the entries its results index.
type policyTable struct {
	cls     Classifier
	entries []*entry
	// byID is each entry's index in entries: a map[string]int, a type
	// the daemon has anyway, rather than a map of its own type to the
	// entries, whose type data cost flash.
	byID map[string]int
}

// newPolicy builds a table for ids, reusing the entries of old (may be
// nil) that have the same ID, and gives every entry its index in it.
func (e *Engine) newPolicy(cls Classifier, ids []string, old *policyTable) (*policyTable, error) {
	if cls == nil {
		return nil, errors.New("esp: engine needs a classifier")
	}
	t := &policyTable{cls: cls, entries: make([]*entry, len(ids)), byID: make(map[string]int, len(ids))}
	for i, id := range ids {
		if _, dup := t.byID[id]; dup {
			return nil, fmt.Errorf("esp: policy entry %q listed twice", id)
		}
		var ent *entry
		if old != nil {
			if j, ok := old.byID[id]; ok {
				ent = old.entries[j]
			}
		}
		if ent == nil {
			ent = &entry{id: id, queue: make([]queued, 0, e.cfg.QueueLen)}
		}
		t.entries[i] = ent
		t.byID[id] = i
	}
	// Only once the table is complete: a refused one moves no entry.
	for i, ent := range t.entries {
		ent.index.Store(int32(i))
	}
	return t, nil
}

// Reconfigure replaces the classifier and the entry list (ids in the
// classifier's index order). Entries whose ID stays keep their pairs and
// queued packets at their new index; entries whose ID is gone lose their
// pairs (removed as by Remove, keys wiped once no loop uses them) and
// their queued packets; new IDs start without SAs. It returns the pairs it
// removed, so that their owner can forget them.
//
// An entry whose crypto map changed but kept its ID keeps its pairs here:
// the caller removes them (IKE with Delete notifications) and installs new
// ones.
func (e *Engine) Reconfigure(cls Classifier, ids []string) ([]*Pair, error) {
	if e.closed.Load() {
		return nil, errors.New("esp: engine closed")
	}
	e.tableMu.Lock()
	old := e.policy.Load()
	t, err := e.newPolicy(cls, ids, old)
	if err != nil {
		e.tableMu.Unlock()
		return nil, err
	}
	// A dropped entry's index is -1 from now on: no later table has it.
	for _, ent := range old.entries {
		if j, ok := t.byID[ent.id]; !ok || t.entries[j] != ent {
			ent.index.Store(-1)
		}
	}
	e.policy.Store(t)
	var orphans []*Pair
	for _, p := range e.pairs {
		if p.ent.index.Load() < 0 {
			orphans = append(orphans, p)
		}
	}
	e.tableMu.Unlock()
	for _, p := range orphans {
		e.Remove(p)
	}
	// The packets waiting in the dropped entries are discarded: those
	// marked above, found again by their index rather than kept in a
	// list (flash).
	for _, ent := range old.entries {
		if ent.index.Load() >= 0 {
			continue
		}
		ent.mu.Lock()
		for i, q := range ent.queue {
			e.pool.put(q.buf)
			ent.queue[i] = queued{}
			ent.drops.add(DropQueueFull)
		}
		ent.queue = ent.queue[:0]
		ent.pending.Store(0)
		ent.mu.Unlock()
	}
	return orphans, nil
}

// EntryIndex returns the current index of the entry named id, -1 when
// there is none.
func (e *Engine) EntryIndex(id string) int {
	pol := e.policy.Load()
	if i, ok := pol.byID[id]; ok {
		return int(pol.entries[i].index.Load())
	}
	return -1
}

// EntryID returns the ID of the entry at index i in the current table, ""
// when out of range.
func (e *Engine) EntryID(i int) string {
	pol := e.policy.Load()
	if i < 0 || i >= len(pol.entries) {
		return ""
	}
	return pol.entries[i].id
}

// PairsFor returns the installed pairs of the entry named id, newest first.
func (e *Engine) PairsFor(id string) []*Pair {
	if i := e.EntryIndex(id); i >= 0 {
		return e.Pairs(i)
	}
	return nil
}
