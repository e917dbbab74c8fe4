package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/qindex/qindex/store"
)

// Op is a job_queue.log operation code (FORMAT.md §1).
type Op uint8

// The operation codes.
const (
	OpNewAd      Op = 101 // 101 <key> <MyType> <TargetType>
	OpDestroyAd  Op = 102 // 102 <key>
	OpSetAttr    Op = 103 // 103 <key> <Name> <value text>
	OpDeleteAttr Op = 104 // 104 <key> <Name>
	OpBeginTx    Op = 105 // 105
	OpEndTx      Op = 106 // 106 [#comment]
	OpHeader     Op = 107 // 107 <seq> CreationTimestamp <unix time>
)

// Record is one parsed log line. Its byte slices alias the line.
type Record struct {
	Op  Op
	Key store.Key
	// Name is the attribute name of 103 and 104, and the MyType of 101
	// (empty for "(empty)").
	Name []byte
	// Value is the value text of 103, verbatim.
	Value []byte
	// Seq and Created are the fields of a 107 header.
	Seq, Created int64
}

// ErrCorrupt is wrapped by every error ParseRecord returns.
var ErrCorrupt = errors.New("corrupt record")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// cutField cuts b at its first field separator. Fields are separated by
// one space, as the schedd writes them, or by a tab, which its reader
// (readword) takes as a separator too: names and keys never hold white
// space (FORMAT.md §1), so "103 1.0 ClaimId\tx" sets ClaimId, a secret,
// and is treated as one.
func cutField(b []byte) (field, rest []byte, found bool) {
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// shown returns a field of a corrupt line as an error message may quote
// it: only when it is short and made of the characters of an op code or
// a key. Anything else could be part of a value, and values are never
// logged (a secret's would leak; FORMAT.md §6).
func shown(field []byte) string {
	if len(field) > 24 {
		return "(too long to show)"
	}
	for _, c := range field {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return "(not a number)"
		}
	}
	return strconv.Quote(string(field))
}

// shownName returns an attribute name as a message may quote it: as it is
// when it is an identifier of at most 100 characters, as attribute names
// are; anything else could hold a value ("ClaimId=..."), and is not shown.
func shownName(name []byte) string {
	ok := len(name) > 0 && len(name) <= 100
	for i, c := range name {
		ok = ok && (c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9')
	}
	if !ok {
		return "(a name that is not an identifier)"
	}
	return string(name)
}

// ParseRecord parses one line (without its newline). Its errors never
// quote a value (see shown).
func ParseRecord(line []byte) (Record, error) {
	if len(line) == 0 {
		return Record{}, corrupt("empty line")
	}
	if bytes.IndexByte(line, 0) >= 0 {
		return Record{}, corrupt("NUL byte in line")
	}
	opText, rest, _ := cutField(line)
	if len(opText) != 3 || opText[0] != '1' || opText[1] != '0' || opText[2] < '1' || opText[2] > '7' {
		return Record{}, corrupt("unknown op code %s", shown(opText))
	}
	r := Record{Op: Op(100 + opText[2] - '0')}
	switch r.Op {
	case OpBeginTx, OpEndTx:
		return r, nil
	case OpHeader:
		f := bytes.Fields(rest)
		if len(f) != 3 || string(f[1]) != "CreationTimestamp" {
			return r, corrupt("107: want '107 <seq> CreationTimestamp <time>'")
		}
		var err1, err2 error
		r.Seq, err1 = strconv.ParseInt(string(f[0]), 10, 64)
		r.Created, err2 = strconv.ParseInt(string(f[2]), 10, 64)
		if err1 != nil || err2 != nil {
			return r, corrupt("107: sequence number and creation time must be integers")
		}
		return r, nil
	}
	keyText, rest, _ := cutField(rest)
	if len(keyText) == 0 {
		return r, corrupt("%d: missing key", r.Op)
	}
	var err error
	if r.Key, err = store.ParseKey(keyText); err != nil {
		return r, corrupt("%d: key %s: want <cluster>.<proc> with integer parts", r.Op, shown(keyText))
	}
	switch r.Op {
	case OpNewAd:
		myType, _, _ := cutField(rest)
		if len(myType) == 0 {
			return r, corrupt("101 %s: missing MyType", r.Key)
		}
		if string(myType) != "(empty)" {
			r.Name = myType
		}
	case OpSetAttr:
		name, value, ok := cutField(rest)
		if len(name) == 0 {
			return r, corrupt("103 %s: missing attribute name", r.Key)
		}
		if !ok || len(value) == 0 {
			return r, corrupt("103 %s %s: missing value", r.Key, shownName(name))
		}
		r.Name, r.Value = name, value
	case OpDeleteAttr:
		name, _, _ := cutField(rest)
		if len(name) == 0 {
			return r, corrupt("104 %s: missing attribute name", r.Key)
		}
		r.Name = name
	}
	return r, nil
}
