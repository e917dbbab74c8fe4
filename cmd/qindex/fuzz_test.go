package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/qindex/qindex/store"
)

// FuzzRequest: any bytes a client sends on the daemon's socket are decoded
// or refused, and a decoded query runs against a database, or fails, with
// no panic and in bounded time.
func FuzzRequest(f *testing.F) {
	for _, req := range []string{
		`{"command":"q","query":{"args":["alice","1.0","-nobatch"],"now":1700000000}}` + "\n",
		`{"command":"q","query":{"args":["-constraint","JobStatus == 5 && Owner =?= \"bob\"","-af:jh","ClusterId","strcat(Owner,\"x\")","-limit","3"]}}` + "\n",
		`{"command":"q","query":{"args":["-json","-allusers"],"explain":true,"no_index":true,"zone":"Europe/Paris"}}` + "\n",
		`{"command":"q","query":{"args":["-long","-constraint","((((1))))"],"me":"alice"}}` + "\n",
		`{"command":"q","query":{"args":["-totals","-1.-1","x.y"],"defaults":{"OnlyMyJobs":true}}}` + "\n",
		`{"command":"q","query":{"args":["-dag","-nobatch","-format","%-9999d|","ClusterId","-hold:1/0"],"db":"x"}}` + "\n",
		`{"command":"q","query":{"args":["1","-xml","-attributes","Owner"],"me":"bob","zone":"../../etc/passwd"}}` + "\n",
		`{"command":"q","query":{"args":["-allusers","-batch:z","-hold-codes","-io","-run"]}}` + "\n",
		`{"command":"history","query":{"args":["-since","1.0","-af","Owner","-completedsince","-1","-scanlimit","2"]}}` + "\n",
		`{"command":"history","query":{"args":["alice","7.3","-since","JobStatus == 4 && ((1))","-long:jsonl","-match","1"],"explain":true}}` + "\n",
		`{"command":"history","query":{"args":["-format","%9999s","Cmd","-since","99999999999999999999"],"no_index":true}}` + "\n",
		`{"command":"status"}` + "\n", `{"command":"check","db":"../\u0000x"}` + "\n", "{not json\n", "\n", `{"command":"q"}`,
	} {
		f.Add([]byte(req))
	}
	db := fuzzDB(f)
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(bytes.NewReader(data))
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var run func() error
		switch {
		case req.Command == "check":
			run = func() error { return runCheck(db, req.DB, io.Discard) }
		case req.Command == "q" && req.Query != nil:
			run = func() error { return req.Query.run(ctx, qTool, db, io.Discard, io.Discard) }
		case req.Command == "history" && req.Query != nil:
			run = func() error { return req.Query.run(ctx, historyTool, db, io.Discard, io.Discard) }
		default:
			return
		}
		if err := store.Guard(run); err != nil && !isExpected(err) {
			t.Fatalf("%s: %v", data, err)
		}
	})
}

// isExpected reports whether a query's error is one a request may cause:
// anything but a panic (an internal error) or damage.
func isExpected(err error) bool {
	return !bytes.Contains([]byte(err.Error()), []byte("internal error")) && !bytes.Contains([]byte(err.Error()), []byte("damaged"))
}

// fuzzDB replays the queue fixture into a database for FuzzRequest.
func fuzzDB(f *testing.F) *store.DB {
	path := filepath.Join(f.TempDir(), "q.db")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"qindex", "ingest", "--log", filepath.Join("..", "..", "testdata", "queue.log"), "--db", path},
		env{stdout: &out, stderr: &errOut, now: time.Now, location: time.UTC}); code != 0 {
		f.Fatal(errOut.String())
	}
	db, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	return db
}
