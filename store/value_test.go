package store

import (
	"strings"
	"testing"

	"github.com/PelicanPlatform/classad/classad"
)

func evalString(t *testing.T, text string) string {
	t.Helper()
	e, err := ParseExpr(text)
	if err != nil {
		t.Fatal(err)
	}
	s, err := classad.New().EvaluateExpr(e).StringValue()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLiteralKind(t *testing.T) {
	tests := []struct {
		text string
		want ValueKind
	}{
		{"5", KindInt}, {"-1", KindInt}, {"007", KindInt},
		{"3.0", KindReal}, {"-0.5", KindReal}, {"1e10", KindReal}, {"1.5E-3", KindReal},
		{`"text"`, KindString}, {`""`, KindString}, {`"a  b"`, KindString}, {`"C:\Users\alice"`, KindString},
		{"true", KindBool}, {"FALSE", KindBool}, {"UNDEFINED", KindUndefined}, {"Undefined", KindUndefined}, {"error", KindError},
		{`"a \" b"`, KindExpr}, {`"a" + "b"`, KindExpr}, {`"`, KindExpr}, {`"abc`, KindExpr},
		{"5.", KindExpr}, {"-", KindExpr}, {"1e", KindExpr}, {"1-2", KindExpr}, {"x", KindExpr}, {"", KindExpr},
		{"{ 1, 2 }", KindExpr}, {"[ x = 1 ]", KindExpr}, {"time()", KindExpr}, {"truex", KindExpr},
	}
	for _, tt := range tests {
		if got := LiteralKind(tt.text); got != tt.want {
			t.Errorf("LiteralKind(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestIntLiteral(t *testing.T) {
	tests := []struct {
		text string
		want int64
		ok   bool
	}{
		{"5", 5, true}, {"-1", -1, true}, {"007", 7, true}, {"0", 0, true}, {"-0", 0, true},
		{"123456789012345678", 123456789012345678, true},   // 18 digits: read directly
		{"9223372036854775807", 9223372036854775807, true}, // 19 digits: strconv
		{"-9223372036854775808", -1 << 63, true},           // the least int64
		{"9223372036854775808", 0, false},                  // one past the greatest
		{"99999999999999999999999", 0, false},              // far past
		{"1999999999999999999x", 0, false},                 // long and not a number
		{"3.0", 0, false}, {"1e3", 0, false}, {"-", 0, false}, {"", 0, false},
		{"--1", 0, false}, {"1-2", 0, false}, {" 1", 0, false}, {"+1", 0, false}, {`"1"`, 0, false},
	}
	for _, tt := range tests {
		got, ok := IntLiteral(tt.text)
		if got != tt.want || ok != tt.ok {
			t.Errorf("IntLiteral(%q) = %d, %v; want %d, %v", tt.text, got, ok, tt.want, tt.ok)
		}
		if gotb, okb := IntLiteral([]byte(tt.text)); gotb != got || okb != ok {
			t.Errorf("IntLiteral([]byte(%q)) = %d, %v; the string gave %d, %v", tt.text, gotb, okb, got, ok)
		}
		if ok && LiteralKind(tt.text) != KindInt {
			t.Errorf("IntLiteral(%q) accepted a text LiteralKind does not call an integer", tt.text)
		}
	}
}

func TestToNewSyntax(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"C:\Users\alice"`, `"C:\\Users\\alice"`},
		{`"a \" b"`, `"a \" b"`},
		{`"x\ty"`, `"x\\ty"`},
		{`Owner == "a\b" && Cmd == "c"`, `Owner == "a\\b" && Cmd == "c"`},
		{`"no backslash"`, `"no backslash"`},
		{`"\"quoted\" \path"`, `"\"quoted\" \\path"`},
		// A \" that ends the value closes the string (FORMAT.md §2);
		// anywhere else it is a quote, even before a ',' or ')'.
		{`"C:\condor\execute\"`, `"C:\\condor\\execute\\"`},
		{`"\"`, `"\\"`},
		{`{ "a\", "b" }`, `{ "a\", "b" }`},
		{`strcat("a\")`, `strcat("a\")`},
	}
	for _, tt := range tests {
		if got := ToNewSyntax(tt.in); got != tt.want {
			t.Errorf("ToNewSyntax(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseExprTrailingBackslash(t *testing.T) {
	for text, want := range map[string]string{
		`"C:\condor\execute\"`: `C:\condor\execute\`,
		`"\"`:                  `\`,
		`"a\"b\"`:              `a"b\`,
	} {
		if s := evalString(t, text); s != want {
			t.Errorf("%s evaluates to %q, want %q", text, s, want)
		}
	}
	if _, err := ParseExpr(`"a\" == x`); err == nil {
		t.Errorf(`"a\" == x: an unterminated string was accepted`)
	}
}

func TestParseExprKeepsBackslashes(t *testing.T) {
	if s := evalString(t, `"C:\Users\alice\new"`); s != `C:\Users\alice\new` {
		t.Errorf("string value %q", s)
	}
	if s := evalString(t, `"say \"hi\""`); s != `say "hi"` {
		t.Errorf("escaped quotes: %q", s)
	}
}

func TestChecker(t *testing.T) {
	var c Checker
	for _, ok := range []string{"5", `"x"`, "((JobStatus == 4) && (time() - CompletionDate) < 864000)", "{ \"a\", \"b\" }", "[ x = 1 ]", "undefined", `"a \" b"`, `strcat("a", "b")`} {
		for range 2 { // the second time from the cache
			if !c.Valid([]byte(ok)) {
				t.Errorf("Valid(%q) = false", ok)
			}
		}
	}
	for _, bad := range []string{"", "(1 +", `"unterminated`, "foo bar", "a;b", "1 2"} {
		for range 2 {
			if c.Valid([]byte(bad)) {
				t.Errorf("Valid(%q) = true", bad)
			}
		}
	}
}

// TestParseExprDepth: expressions nested up to MaxExprDepth parse; deeper
// ones, of every shape that nests, are refused, and those that would make
// the parser itself deep are refused before it runs (a value of 5M nested
// "1+" terms, or 6M parentheses, used to overflow the stack of whatever
// walked it).
func TestParseExprDepth(t *testing.T) {
	const d = MaxExprDepth
	rep := strings.Repeat
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"parentheses at the limit", rep("(", d-1) + "1" + rep(")", d-1), true},
		{"parentheses past it", rep("(", d) + "1" + rep(")", d), false},
		{"a chain at the limit", rep("1+", d-1) + "1", true},
		{"a chain past it", rep("1+", d) + "1", false},
		{"a chain of || past it", rep("a || ", d) + "a", false},
		{"prefix operators past it", rep("-", d) + "1", false},
		{"negations past it", rep("!", d) + "true", false},
		{"conditionals past it", rep("x ? 1 : ", d) + "1", false},
		{"lists past it", rep("{", d+1) + rep("}", d+1), false},
		{"records past it", rep("[a=", d) + "1" + rep("]", d), false},
		{"calls past it", rep("f(", d) + "1" + rep(")", d), false},
		{"subscripts past it", "a" + rep("[1]", d), false},
		{"selections past it", "a" + rep(".b", d), false},
		{"a long flat list is fine", "{" + rep("-1, ", 100*d) + "1}", true},
		{"many calls side by side are fine", rep("f(1) + ", d/2) + "1", true},
		{"brackets in strings do not count", `"` + rep("(", 10*d) + `"`, true},
		{"an escaped quote does not end a string", `"\"` + rep("(", 10*d) + `" == a`, true},
		{"5M nested 1+ terms", rep("1+", 5_000_000) + "1", false},
		{"6M parentheses", rep("(", 6_000_000), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.text)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseExpr: %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if len(err.Error()) > 200 {
					t.Errorf("an error of %d bytes", len(err.Error()))
				}
				return
			}
			if got := Depth(e); got > MaxExprDepth {
				t.Errorf("depth %d accepted", got)
			}
		})
	}
}
