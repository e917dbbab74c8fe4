# qindex: a newcomer needs two targets, `make run` and `make test`.
GO      ?= go
BIN     := bin/qindex
JOBS    ?= 125000
HISTORY ?= 1000000

.PHONY: all build run test bench golden fuzz install clean

all: build

# Static (no cgo): a qindex q process then starts without the dynamic
# loader and libc, about 1 ms of the few it takes (docs/BENCHMARKS.md).
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/qindex

# A demo on a generated, changing queue: a model schedd keeps writing
# demo/job_queue.log and demo/qindex.db follows it. Query it from another
# terminal while it runs; Ctrl-C stops it.
run: build
	./$(BIN) demo --dir demo

# staticcheck, pinned, through the module proxy (go run builds it once and
# caches it).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

test:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -race -count=1 ./...

# How ingest and reads scale (queues of $(JOBS)/8, $(JOBS)/2 and $(JOBS)
# jobs, cold reads when run as root), the Go benchmarks (in-process), the
# CLI measured as a process on a generated queue of $(JOBS) jobs, then the
# history: $(HISTORY) jobs leave (a 2.8 GB log and a 3 GB database in bench/
# at the default million), and history queries over them.
# Figures go in docs/BENCHMARKS.md.
bench: build
	$(GO) run ./cmd/qindex-bench --qindex $(BIN) --dir bench --jobs $(JOBS) --scale
	QINDEX_BENCH_JOBS=$(JOBS) $(GO) test -run '^$$' -bench . -benchtime 3x ./...
	$(GO) run ./cmd/qindex-bench --qindex $(BIN) --dir bench --jobs $(JOBS)
	$(GO) run ./cmd/qindex-bench --qindex $(BIN) --dir bench --history $(HISTORY)

# Rewrite the golden outputs of testdata/golden/*.txt from what qindex
# prints now (not testdata/golden/condorq/, written by hand from CONDOR_Q.md).
golden:
	$(GO) test ./cmd/qindex -run TestGolden -count=1 -update

# Each fuzz target for $(FUZZTIME). Their seeds, and what earlier runs found
# (testdata/fuzz/ beside each package), run in 'make test' as ordinary tests.
# A run that fails without writing a failing input is Go's own race at the
# end of -fuzztime (golang/go#75804, "context deadline exceeded"): reported,
# not counted.
FUZZTIME ?= 60s
FUZZ := ingest:FuzzParseRecord ingest:FuzzReplay store:FuzzParseExpr store:FuzzOldSyntaxString store:FuzzOpen cmd/qindex:FuzzRequest index/condorq:FuzzParse index/condorq:FuzzPrintf
fuzz:
	@for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t##*:}; dir=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls $$dir 2>/dev/null | wc -l); \
		echo "fuzz $$t for $(FUZZTIME)"; \
		if ! $(GO) test ./$$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME); then \
			if [ "$$(ls $$dir 2>/dev/null | wc -l)" -gt "$$before" ]; then echo "fuzz $$t: a failing input, in $$dir"; exit 1; fi; \
			echo "fuzz $$t: stopped without a failing input (golang/go#75804); not counted"; \
		fi; \
	done

# The man page is made from the commands' own help; TestManPageIsCurrent
# fails when it is not made again after a change.
deploy/qindex.1: build
	./$(BIN) man > $@

# What a site installs (README.md, "Install on a schedd host"): the binary,
# the systemd unit and its user, the man page, shell completion, alert
# rules and dashboard. DESTDIR for packaging.
PREFIX ?= /usr/local
SYSTEMDDIR ?= /etc/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/qindex
	install -D -m 0644 deploy/qindex.1 $(DESTDIR)$(PREFIX)/share/man/man1/qindex.1
	install -D -m 0644 deploy/completion/qindex.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qindex
	install -D -m 0644 deploy/completion/_qindex $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_qindex
	install -D -m 0644 deploy/alerts.yml $(DESTDIR)$(PREFIX)/share/qindex/alerts.yml
	install -D -m 0644 deploy/grafana-dashboard.json $(DESTDIR)$(PREFIX)/share/qindex/grafana-dashboard.json
	sed 's|/usr/local/bin/qindex|$(PREFIX)/bin/qindex|' deploy/qindex.service > qindex.service.tmp
	install -D -m 0644 qindex.service.tmp $(DESTDIR)$(SYSTEMDDIR)/qindex.service
	rm -f qindex.service.tmp
	install -D -m 0644 deploy/qindex.sysusers $(DESTDIR)$(SYSUSERSDIR)/qindex.conf

clean:
	rm -rf bin demo bench
