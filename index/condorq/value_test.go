package condorq

import (
	"math"
	"testing"
	"time"

	"github.com/qindex/qindex/index"
)

func TestFormatReal(t *testing.T) {
	// CONDOR_Q.md §7.2 and the examples.
	for f, want := range map[float64]string{
		0: "0.0", math.Copysign(0, -1): "-0.0", 3: "3.0", 0.1: "0.1", 1e20: "1E+20", 2.5e-5: "2.5E-05",
		1.0 / 3: "0.3333333333333333", 2.4285714285714287e+08: "242857142.8571429", 1e6: "1000000.0",
		0.1 + 0.2: "0.3", -912: "-912.0", math.NaN(): `real("NaN")`, math.Inf(1): `real("INF")`, math.Inf(-1): `real("-INF")`,
	} {
		if got := formatReal(f); got != want {
			t.Errorf("formatReal(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestTimeAndDate(t *testing.T) {
	for s, want := range map[int64]string{0: "  0+00:00:00", 3723: "  0+01:02:03", 90061: "  1+01:01:01", -1: "  0+00:00:-1", 1000 * 86400: "1000+00:00:00"} {
		if got := formatTime(s); got != want {
			t.Errorf("formatTime(%d) = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[int64]string{1741943112: " 3/14 09:05", 1764547620: "12/1  00:07", -1: "    ???    "} {
		if got := formatDate(s, time.UTC); got != want {
			t.Errorf("formatDate(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestJSONAndXMLValues(t *testing.T) {
	p := &adView{env: index.NewEnv(0)}
	tests := []struct{ text, json, xml string }{
		{"5", "5", "<i>5</i>"},
		{"-1", "-1", "<i>-1</i>"},
		{"007", "7", "<i>7</i>"},
		{"3.0", "3.0", "<r>3.000000000000000E+00</r>"},
		{"0.0", "0.0", "<r>0.0</r>"},
		{"1e10", "10000000000.0", "<r>1.000000000000000E+10</r>"},
		{`"a  b"`, `"a  b"`, "<s>a  b</s>"},
		{`"C:\Users\x\"`, `"C:\\Users\\x\\"`, `<s>C:\\Users\\x\\</s>`},
		{`"say \"hi\" <&>"`, `"say \"hi\" <&>"`, `<s>say "hi" &lt;&amp;&gt;</s>`},
		{"TRUE", "true", `<b v="t"/>`},
		{"false", "false", `<b v="f"/>`},
		{"undefined", "null", "<un/>"},
		{"error", `"\/Expr(error)\/"`, "<er/>"},
		{`{ "a", 1, -2 }`, "[\n    \"a\",\n    1,\n    -2\n  ]", `<l><s>a</s><i>1</i><i>-2</i></l>`},
		{"(A + 1)", `"\/Expr((A + 1))\/"`, "<e>(A + 1)</e>"},
		{`A =?= "x\"y" && B =!= 2`, `"\/Expr(A is \"x\\\"y\" && B isnt 2)\/"`, `<e>A is "x\"y" &amp;&amp; B isnt 2</e>`},
		{`"a\`, `"\/Expr(error)\/"`, "<er/>"}, // an unterminated string is stored as error
	}
	for _, tt := range tests {
		if got := p.json(tt.text, 1); got != tt.json {
			t.Errorf("JSON of %s = %s, want %s", tt.text, got, tt.json)
		}
		if got := p.xml(tt.text); got != tt.xml {
			t.Errorf("XML of %s = %s, want %s", tt.text, got, tt.xml)
		}
	}
	if got, want := jsonString("tab\t nl\n \x01 \xff é /"), `"tab\t nl\n \u0001 `+"\xff"+` é /"`; got != want {
		t.Errorf("jsonString = %s, want %s", got, want)
	}
}

func TestPrintfFormats(t *testing.T) {
	tests := []struct {
		format string
		want   printfSpec
	}{
		{`%-6s|`, printfSpec{flags: "-", width: "6", conv: 's', post: "|"}},
		{`x=%5.1f\n`, printfSpec{pre: "x=", width: "5", prec: ".1", conv: 'f', post: "\n"}},
		{`%lld %% %d`, printfSpec{long: true, conv: 'd', post: " % %d"}},
		{`100%% %'d`, printfSpec{pre: "100% ", conv: 'd'}},
		{`%*d`, printfSpec{literal: "%*d"}},
		{`%n`, printfSpec{literal: "%n"}},
		{`no conversion %%`, printfSpec{literal: "no conversion %%"}},
		{`\t\"q\"\\`, printfSpec{literal: "\t\"q\"\\"}},
	}
	for _, tt := range tests {
		got := parsePrintf(tt.format)
		if got != tt.want {
			t.Errorf("parsePrintf(%q) = %+v, want %+v", tt.format, got, tt.want)
		}
	}
}

func TestProcIDs(t *testing.T) {
	tests := []struct {
		s     string
		c, p  int64
		isJob bool
	}{
		{"12", 12, -1, true}, {"12.", 12, -1, true}, {"12.3", 12, 3, true}, {" 12.3", 12, 3, true}, {"+12", 12, -1, true},
		{"12.-4", 12, -4, true}, {"12x", 0, 0, false}, {"1.2.3", 0, 0, false}, {"alice", 0, 0, false}, {"12. 3", 12, 3, true},
	}
	for _, tt := range tests {
		c, p, ok := procID(tt.s)
		if ok != tt.isJob || ok && (c != tt.c || p != tt.p) {
			t.Errorf("procID(%q) = %d, %d, %v", tt.s, c, p, ok)
		}
	}
}

// FuzzPrintf: any -format format parses, and its first conversion's width
// and precision stay within what Parse lets through.
func FuzzPrintf(f *testing.F) {
	for _, seed := range []string{"%d", `%-10.3f\n`, "%%%s", "%*d", "%lld%", `\x41%v`, "%'#0- +12.4lX"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, format string) {
		s := parsePrintf(format)
		if s.conv == 0 && s.literal == "" && format != "" && unescapeC(format) != "" {
			t.Errorf("%q: no conversion and no literal text", format)
		}
	})
}
