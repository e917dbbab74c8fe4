package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/qindex/qindex/exporter"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "qindex test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestMetricsOverTLSWithBasicAuth: with a web configuration file, the
// metrics are served over TLS to a client that gives the password, and
// refused to one that does not, or that speaks plain HTTP.
func TestMetricsOverTLSWithBasicAuth(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	certFile, keyFile, pool := selfSigned(t, dir)
	config := filepath.Join(dir, "web.yml")
	// The bcrypt hash of "s3cret-scrape", as the toolkit's docs make one.
	os.WriteFile(config, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+
		"\nbasic_auth_users:\n  prometheus: $2a$10$dU0mNaaCJru0VEUFbRdyC.baS3NBKy6fImp2VJ3FWgdHR7K6jsdLi\n"), 0o600)

	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", webConfig: config, metrics: exporter.Options{Interval: time.Hour}})
	defer d.stop(t)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	url := status(t, db).Daemon.Metrics
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("metrics at %q, want an https URL", url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	get := func(user, password string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("", ""); code != http.StatusUnauthorized {
		t.Errorf("a scrape without credentials: %d, want 401", code)
	}
	if code, _ := get("prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("a scrape with a wrong password: %d, want 401", code)
	}
	if code, body := get("prometheus", "s3cret-scrape"); code != http.StatusOK || !strings.Contains(body, "htcondor_queue_jobs{") {
		t.Errorf("a scrape with the password: %d %.200s", code, body)
	}
	plain := strings.Replace(url, "https://", "http://", 1)
	if resp, err := http.Get(plain); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(b), "htcondor_queue_jobs") {
			t.Errorf("plain HTTP served the metrics")
		}
	}
}

// TestHealthAndReadiness: /-/healthy answers while the daemon runs;
// /-/ready only once it has loaded the log.
func TestHealthAndReadiness(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	d := startDaemonWith(t, serveOptions{log: log, db: db, poll: 20 * time.Millisecond,
		listen: "127.0.0.1:0", telemetryPath: "/metrics", metrics: exporter.Options{Interval: time.Hour}})
	defer d.stop(t)
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	base := strings.TrimSuffix(status(t, db).Daemon.Metrics, "/metrics")
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/-/healthy"); code != 200 {
		t.Errorf("/-/healthy without a log: %d", code)
	}
	if code, body := get("/-/ready"); code != 503 || !strings.Contains(body, "no queue yet") {
		t.Errorf("/-/ready without a log: %d %q", code, body)
	}
	copyFixture(t, "queue.log", log)
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	if code, body := get("/-/ready"); code != 200 || body != "Ready\n" {
		t.Errorf("/-/ready after the load: %d %q", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, `href="/-/ready"`) {
		t.Errorf("landing page: %d %.300q", code, body)
	}
}

func TestVersionAndLogFlags(t *testing.T) {
	out, _, code := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "qindex version ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"serve", "--log", "x", "--db", "y", "--log.level", "loud"}, `--log.level "loud" is not debug, info, warn or error`},
		{[]string{"ingest", "--log", "../../testdata/queue.log", "--db", "y", "--log.format", "xml"}, `--log.format "xml" is not logfmt or json`},
		{[]string{"serve", "--log", "x", "--db", "y", "--web.config.file", "/nonexistent/web.yml"}, "--web.config.file /nonexistent/web.yml"},
	} {
		if _, errOut, code := runCLI(t, tt.args...); code != 2 || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%v: exit %d %s", tt.args, code, errOut)
		}
	}
	// JSON log lines from an ingest that meets a corrupt record.
	db := filepath.Join(t.TempDir(), "q.db")
	_, errOut, code := runCLI(t, "ingest", "--log", "../../testdata/queue.log", "--db", db, "--log.format", "json")
	if code != 0 || !strings.HasPrefix(errOut, `{"time":`) || !strings.Contains(errOut, `"level":"WARN"`) {
		t.Errorf("ingest --log.format json: exit %d %s", code, errOut)
	}
}

// TestSystemdSocketActivation: with --web.systemd-socket the metrics are
// served on the socket systemd passes (fd 3, LISTEN_FDS=1), not on a port
// of the daemon's own.
func TestSystemdSocketActivation(t *testing.T) {
	dir := t.TempDir()
	log, db := filepath.Join(dir, "job_queue.log"), filepath.Join(dir, "q.db")
	copyFixture(t, "queue.log", log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	// systemd sets LISTEN_PID to the service's pid: bash's $$, which exec keeps.
	cmd := exec.Command("bash", "-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, os.Args[0],
		"serve", "--log", log, "--db", db, "--web.systemd-socket", "--collect-interval", "50ms")
	cmd.Env = append(os.Environ(), "QINDEX_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{f}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	waitFor(t, "the socket", func() bool { _, err := os.Stat(socketPath(db)); return err == nil })
	waitFor(t, "the first load", func() bool { return loaded(t, status(t, db), log) })
	url := "http://" + ln.Addr().String() + "/metrics"
	waitFor(t, "metrics on systemd's socket", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(b), "htcondor_queue_jobs{")
	})
	if t.Failed() {
		t.Logf("the daemon's log:\n%s", stderr.String())
	}
}
