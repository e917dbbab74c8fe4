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
	// attrs are sorted by folded name, except after sets and deletes that
	// an ad of more than smallAd attributes took out of order: then index
	// finds them, and sorted puts them back in order for encoding. So a set
	// or delete costs O(log n) or O(1), never a shift of the whole slice,
	// and an ad of a million attributes is built in linear time.
	attrs []Attr
	index map[string]int // folded name -> position in attrs, while unsorted
}

// smallAd is the size up to which an ad is kept sorted at every set: the
// shift of an insertion costs less than a map.
const smallAd = 64

func (a *adState) newAd(myType string) bool {
	if a.exists {
		return false
	}
	a.exists, a.myType, a.attrs, a.index = true, myType, a.attrs[:0], nil
	return true
}

func (a *adState) destroy() bool {
	if !a.exists {
		return false
	}
	a.exists, a.myType, a.index = false, "", nil
	clear(a.attrs)
	a.attrs = a.attrs[:0]
	return true
}

func (a *adState) set(name, value string) bool {
	if !a.exists || IsSecret(name) {
		return false
	}
	i, found := a.find(name)
	switch {
	case found:
		a.attrs[i].Value = value
	case a.index == nil && (i == len(a.attrs) || len(a.attrs) < smallAd):
		a.attrs = slices.Insert(a.attrs, i, Attr{Name: name, Value: value})
	default:
		a.unsort()
		a.index[FoldName(name)] = len(a.attrs)
		a.attrs = append(a.attrs, Attr{Name: name, Value: value})
	}
	return true
}

func (a *adState) delete(name string) bool {
	if !a.exists {
		return false
	}
	i, found := a.find(name)
	switch {
	case !found:
	case a.index == nil && (i == len(a.attrs)-1 || len(a.attrs) <= smallAd):
		a.attrs = slices.Delete(a.attrs, i, i+1)
	default:
		a.unsort()
		last := len(a.attrs) - 1
		delete(a.index, FoldName(a.attrs[i].Name))
		if i != last {
			a.attrs[i] = a.attrs[last]
			a.index[FoldName(a.attrs[i].Name)] = i
		}
		a.attrs[last] = Attr{}
		a.attrs = a.attrs[:last]
	}
	return found
}

// unsort makes index hold every attribute, if it does not yet, so that
// attrs can be changed out of order.
func (a *adState) unsort() {
	if a.index != nil {
		return
	}
	a.index = make(map[string]int, 2*len(a.attrs))
	for i, at := range a.attrs {
		a.index[FoldName(at.Name)] = i
	}
}

// sorted returns the attributes in order of folded name, sorting them if
// changes took them out of order.
func (a *adState) sorted() []Attr {
	if a.index != nil {
		slices.SortFunc(a.attrs, func(x, y Attr) int { return compareFold(x.Name, y.Name) })
		a.index = nil
	}
	return a.attrs
}

// find returns where name is, or would be inserted, in a.attrs; while
// they are out of order, only found means anything.
func (a *adState) find(name string) (int, bool) {
	if a.index != nil {
		i, ok := a.index[FoldName(name)]
		return i, ok
	}
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
