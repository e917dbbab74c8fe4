package store

import "slices"

// adState is one ad as replay builds it. Its methods are the schedd's rules
// for each log operation on one key (FORMAT.md §4), shared by Writer and
// Loader so that both reach the same ad from the same operations:
//
//   - a new ad for a key that has one is ignored;
//   - destroying a missing ad, or setting or deleting an attribute of one, is
//     dropped;
//   - names compare case-insensitively; a later set replaces the value and
//     keeps the name as first written;
//   - secret attributes (IsSecret) are never kept.
type adState struct {
	exists bool
	myType string
	attrs  []Attr // sorted by folded name
}

func (a *adState) newAd(myType string) bool {
	if a.exists {
		return false
	}
	a.exists, a.myType, a.attrs = true, myType, a.attrs[:0]
	return true
}

func (a *adState) destroy() bool {
	if !a.exists {
		return false
	}
	a.exists, a.myType = false, ""
	clear(a.attrs)
	a.attrs = a.attrs[:0]
	return true
}

func (a *adState) set(name, value string) bool {
	if !a.exists || IsSecret(name) {
		return false
	}
	i, found := a.find(name)
	if found {
		a.attrs[i].Value = value
	} else {
		a.attrs = slices.Insert(a.attrs, i, Attr{Name: name, Value: value})
	}
	return true
}

func (a *adState) delete(name string) bool {
	if !a.exists {
		return false
	}
	i, found := a.find(name)
	if found {
		a.attrs = slices.Delete(a.attrs, i, i+1)
	}
	return found
}

// find returns where name is, or would be inserted, in a.attrs.
func (a *adState) find(name string) (int, bool) {
	return slices.BinarySearchFunc(a.attrs, name, func(at Attr, n string) int {
		return -compareFold(n, at.Name)
	})
}

// lookup returns the value of attribute name.
func (a *adState) lookup(name string) (string, bool) {
	if i, found := a.find(name); found {
		return a.attrs[i].Value, true
	}
	return "", false
}
