package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// growingFile is a reader over data that grows as a test appends to it.
type growingFile struct {
	data []byte
	off  int
}

func (g *growingFile) Read(p []byte) (int, error) {
	if g.off >= len(g.data) {
		return 0, io.EOF
	}
	n := copy(p, g.data[g.off:])
	g.off += n
	return n, nil
}

func readAll(t *testing.T, lr *LineReader) []string {
	t.Helper()
	var out []string
	for {
		line, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(line))
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 3*initialBuffer+17)
	tests := []struct {
		name   string
		input  string
		want   []string
		offset int64
	}{
		{"plain", "a\nb\n", []string{"a", "b"}, 4},
		{"torn last line is not consumed", "a\nbc", []string{"a"}, 2},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}, 6},
		{"only one cr is stripped", "a\r\r\n", []string{"a\r"}, 4},
		{"empty lines", "\n\na\n", []string{"", "", "a"}, 4},
		{"longer than the buffer", "1\n" + long + "\n2\n", []string{"1", long, "2"}, int64(len(long) + 5)},
		{"nothing", "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.input), iotest.OneByteReader(strings.NewReader(tt.input)), iotest.HalfReader(strings.NewReader(tt.input))} {
				lr := NewLineReader(r, 0, 0)
				got := readAll(t, lr)
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Fatalf("lines %q, want %q", got, tt.want)
				}
				if lr.Offset() != tt.offset || lr.Line() != int64(len(tt.want)) {
					t.Fatalf("offset %d line %d, want %d %d", lr.Offset(), lr.Line(), tt.offset, len(tt.want))
				}
			}
		})
	}
}

func TestLineReaderResumesAfterAppend(t *testing.T) {
	g := &growingFile{data: []byte("105 \n103 1.0 A 1")}
	lr := NewLineReader(g, 100, 7)
	if got := readAll(t, lr); len(got) != 1 || lr.Offset() != 105 || lr.Line() != 8 {
		t.Fatalf("got %q at %d line %d", got, lr.Offset(), lr.Line())
	}
	g.data = append(g.data, []byte("23\n106 \n")...)
	got := readAll(t, lr)
	if strings.Join(got, "|") != "103 1.0 A 123|106 " || lr.Offset() != 100+int64(len(g.data)) || lr.Line() != 10 {
		t.Fatalf("after append: %q at %d line %d", got, lr.Offset(), lr.Line())
	}
}

func TestLineReaderPropagatesErrors(t *testing.T) {
	boom := errors.New("boom")
	lr := NewLineReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 0, 0)
	if l, err := lr.Next(); err != nil || string(l) != "a" {
		t.Fatal(l, err)
	}
	if _, err := lr.Next(); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if lr.Offset() != 2 {
		t.Fatalf("offset %d after error", lr.Offset())
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		line    string
		op      Op
		key     string
		name    string
		value   string
		corrupt string
	}{
		{line: "101 01.-1 Job Machine", op: OpNewAd, key: "1.-1", name: "Job"},
		{line: "101 0.2 (empty)", op: OpNewAd, key: "0.2", name: ""},
		{line: "101 1.-2 ClusterPvt (empty)", op: OpNewAd, key: "1.-2", name: "ClusterPvt"},
		{line: "102 1.0", op: OpDestroyAd, key: "1.0"},
		{line: `103 1.0 Cmd "C:\Users\alice"`, op: OpSetAttr, key: "1.0", name: "Cmd", value: `"C:\Users\alice"`},
		{line: `103 1.0 Args "a  b"`, op: OpSetAttr, key: "1.0", name: "Args", value: `"a  b"`},
		{line: `103 1.0 A  5`, op: OpSetAttr, key: "1.0", name: "A", value: ` 5`},
		{line: "103 1.0 R ((x == 1) && y)", op: OpSetAttr, key: "1.0", name: "R", value: "((x == 1) && y)"},
		{line: "104 1.0 Foo", op: OpDeleteAttr, key: "1.0", name: "Foo"},
		{line: "103 1.0 ClaimId\t\"s\"", op: OpSetAttr, key: "1.0", name: "ClaimId", value: `"s"`}, // a tab separates, as readword's white space
		{line: "103\t1.0\tA\t\"a\tb\"", op: OpSetAttr, key: "1.0", name: "A", value: "\"a\tb\""},
		{line: "103 1.0 A \"a\tb\"", op: OpSetAttr, key: "1.0", name: "A", value: "\"a\tb\""},
		{line: "105 ", op: OpBeginTx},
		{line: "105", op: OpBeginTx},
		{line: "106 ", op: OpEndTx},
		{line: "106", op: OpEndTx},
		{line: "106 #a comment", op: OpEndTx},
		{line: "107 314 CreationTimestamp 1354534999", op: OpHeader},
		{line: "", corrupt: "empty line"},
		{line: "999 1.0", corrupt: "unknown op code"},
		{line: "100 1.0", corrupt: "unknown op code"},
		{line: "1010 1.0", corrupt: "unknown op code"},
		{line: "garbage", corrupt: "unknown op code"},
		{line: "103 1.0 A \x00", corrupt: "NUL"},
		{line: "103", corrupt: "missing key"},
		{line: "103 x.y A 1", corrupt: "key"},
		{line: "103 1.0", corrupt: "missing attribute name"},
		{line: "103 1.0 A", corrupt: "missing value"},
		{line: "103 1.0 A ", corrupt: "missing value"},
		{line: "101 1.0", corrupt: "missing MyType"},
		{line: "104 1.0", corrupt: "missing attribute name"},
		{line: "107 x CreationTimestamp 1", corrupt: "107"},
		{line: "107 1 Created 1", corrupt: "107"},
	}
	for _, tt := range tests {
		r, err := ParseRecord([]byte(tt.line))
		if tt.corrupt != "" {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.corrupt) {
				t.Errorf("ParseRecord(%q) error %v, want one mentioning %q", tt.line, err, tt.corrupt)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRecord(%q): %v", tt.line, err)
			continue
		}
		if r.Op != tt.op || (tt.key != "" && r.Key.String() != tt.key) || string(r.Name) != tt.name || !bytes.Equal(r.Value, []byte(tt.value)) && tt.value != "" {
			t.Errorf("ParseRecord(%q) = %+v", tt.line, r)
		}
	}
	if r, _ := ParseRecord([]byte("107 314 CreationTimestamp 1354534999")); r.Seq != 314 || r.Created != 1354534999 {
		t.Errorf("header fields %+v", r)
	}
}
