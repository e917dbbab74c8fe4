package store

import (
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

func TestToNewSyntax(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"C:\Users\alice"`, `"C:\\Users\\alice"`},
		{`"a \" b"`, `"a \" b"`},
		{`"x\ty"`, `"x\\ty"`},
		{`Owner == "a\b" && Cmd == "c"`, `Owner == "a\\b" && Cmd == "c"`},
		{`"no backslash"`, `"no backslash"`},
		{`"\"quoted\" \path"`, `"\"quoted\" \\path"`},
	}
	for _, tt := range tests {
		if got := ToNewSyntax(tt.in); got != tt.want {
			t.Errorf("ToNewSyntax(%s) = %s, want %s", tt.in, got, tt.want)
		}
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
