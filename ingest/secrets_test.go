package ingest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverLogged replays logs whose secret attributes (FORMAT.md §6)
// come in every shape a damaged or hostile log can give them, corrupt or
// not, in transactions or not, and greps every log line (at debug level)
// and the stored state for their values.
func TestSecretsNeverLogged(t *testing.T) {
	scenarios := map[string]string{
		"valid secrets": "101 1.0 Job Machine\n103 1.0 ClaimId \"SECRET-a\"\n103 1.0 TRANSFERKEY \"SECRET-b\"\n" +
			"103 1.0 _condor_privAccount \"SECRET-c\"\n103 1.0 ClaimIdList { \"SECRET-d\" }\n103 1.0 capability \"SECRET-e\"\n",
		"unparsable values": "101 1.0 Job Machine\n103 1.0 ClaimId \"SECRET-f\n103 1.0 TransferKey (SECRET-g\n" +
			"103 1.0 ChildClaimIds SECRET-h ) (\n103 1.0 _condor_priv_x SECRET-i \"\n",
		"tab separators": "101 1.0 Job Machine\n103\t1.0\tClaimId\t\"SECRET-j\n103 1.0 ClaimId\t\"SECRET-k\"\n" +
			"103 1.0 ClaimIds\t(SECRET-l\n",
		"no separators": "101 1.0 Job Machine\n103 1.0 ClaimId=SECRET-m\n104 1.0 ClaimId=SECRET-n\n" +
			"103 1.0ClaimId SECRET-o\n10xClaimId=SECRET-p\n103SECRET-q\n",
		"bad op codes and keys": "101 1.0 Job Machine\n199 1.0 ClaimId \"SECRET-r\"\n103 SECRET-s ClaimId \"x\"\n" +
			"103 1.SECRET-t ClaimId 1\n102 SECRET-u\n101 SECRET-v Job Machine\n",
		"NUL bytes": "101 1.0 Job Machine\n103 1.0 ClaimId \"SECRET-w\x00\"\n103 1.0 ClaimId\x00SECRET-x\n",
		"inside transactions": "105 \n101 1.0 Job Machine\n103 1.0 ClaimId (SECRET-y\n103 1.0 ClaimId \"SECRET-z\"\n106 \n" +
			"105 \n105 \n103 1.0 TransferKey \"SECRET-A\n106 \n105 \n103 1.0 ClaimId \"SECRET-B\n",
		"headers": "107 SECRET-C CreationTimestamp 1\n107 1 CreationTimestamp SECRET-D\n",
	}
	for name, body := range scenarios {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, header+body)
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if _, err := CatchUp(context.Background(), e.db, Options{Log: e.log, Logger: logger}); err != nil {
				if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("the error shows a secret: %v", err)
				}
			}
			if strings.Contains(logs.String(), "SECRET") {
				t.Errorf("a log line shows a secret:\n%s", logs.String())
			}
			if st := e.state(); strings.Contains(st, "SECRET") {
				t.Errorf("a secret was stored:\n%s", st)
			}
			if !strings.Contains(logs.String(), "corrupt") && name != "valid secrets" {
				t.Errorf("no corrupt record reported:\n%s", logs.String())
			}
		})
	}
}
