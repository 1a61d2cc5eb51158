package queuetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

var (
	rabbitOnce sync.Once
	rabbitURL  string
	rabbitErr  error
)

// RabbitMQ starts Debian's rabbitmq-server (apt-get install
// rabbitmq-server; .ci/run installs it) as a private node on loopback
// ports, with its data in a temporary directory, once per test process.
// It returns the broker's AMQP URL. It is a real broker: quorum queues, delivery limits and dead-letter
// exchanges behave as in production.
func RabbitMQ(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(rabbitServer); err != nil && os.Getenv("CI") == "" {
		tb.Skipf("RabbitMQ tests need Debian's rabbitmq-server (sudo bash .ci/install-rabbitmq.sh): %v", err)
	}
	rabbitOnce.Do(func() { rabbitURL, rabbitErr = launchRabbitMQ() })
	if rabbitErr != nil {
		tb.Fatalf("RabbitMQ: %v (install it with: apt-get install rabbitmq-server)", rabbitErr)
	}
	return rabbitURL
}

// rabbitServer is the broker's start script in Debian's package (the
// /usr/sbin wrapper would switch to the rabbitmq user).
const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launchRabbitMQ() (string, error) {
	bin := rabbitServer
	dir, err := os.MkdirTemp("", "ferry-rabbitmq-")
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	dist, err := freePort()
	if err != nil {
		return "", err
	}
	node := fmt.Sprintf("ferrytest%d@localhost", os.Getpid())
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"RABBITMQ_NODENAME="+node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		fmt.Sprintf("RABBITMQ_NODE_PORT=%d", port),
		fmt.Sprintf("RABBITMQ_DIST_PORT=%d", dist),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"HOME="+dir, // its Erlang cookie
	)
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return "", err
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	AtExit(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		os.RemoveAll(dir)
	})
	url := fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port)
	// Ready when it accepts an AMQP connection; the first boot on a busy
	// machine can take a while.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		conn, err := amqp.Dial(url)
		if err == nil {
			conn.Close()
			return url, nil
		}
		select {
		case e := <-exited:
			log, _ := os.ReadFile(out.Name())
			return "", fmt.Errorf("rabbitmq-server exited (%v):\n%s", e, log)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(out.Name())
			return "", fmt.Errorf("rabbitmq-server not ready after 3 minutes: %v\n%s", err, log)
		}
	}
}
