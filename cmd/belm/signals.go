package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// interruptedError is work stopped by a signal after it saved what it had: the command
// exits with 128 + the signal's number, so a job scheduler sees that it did not finish.
type interruptedError struct {
	signal int
	msg    string
}

func (e interruptedError) Error() string { return e.msg }

// stopper turns the first SIGINT or SIGTERM into a request to stop at the next safe point
// (the caller polls requested, or watches context, and saves); a second signal exits at
// once, with what was saved before it (every file is written atomically, so nothing is
// half-written).
type stopper struct {
	ch     chan os.Signal
	sig    atomic.Int32
	ctx    context.Context
	cancel context.CancelFunc
}

// newStopper starts listening; onSecond is printed when a second signal ends the process.
func newStopper(onSecond func() string) *stopper {
	s := &stopper{ch: make(chan os.Signal, 2)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	signal.Notify(s.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range s.ch {
			n := int32(sig.(syscall.Signal))
			if s.sig.CompareAndSwap(0, n) {
				fmt.Fprintf(os.Stderr, "\n%s: stopping after the current step to save a checkpoint (send it again to stop at once)\n", sig)
				s.cancel()
				continue
			}
			fmt.Fprintf(os.Stderr, "\nsecond %s: stopping now. %s\n", sig, onSecond())
			os.Exit(128 + int(n))
		}
	}()
	return s
}

// requested returns the first signal's number, or 0.
func (s *stopper) requested() int { return int(s.sig.Load()) }

// context is cancelled by the first signal: the studies check it before every batch.
func (s *stopper) context() context.Context { return s.ctx }

// interrupted is err, or — when err is a study stopped by the first signal — an
// interruptedError (exit 128 + the signal) saying what was saved.
func (s *stopper) interrupted(err error, saved string) error {
	sig := s.requested()
	if err == nil || sig == 0 || !errors.Is(err, context.Canceled) {
		return err
	}
	return interruptedError{sig, fmt.Sprintf("%s: %v; %s", syscall.Signal(sig), err, saved)}
}

// stop stops listening.
func (s *stopper) stop() {
	signal.Stop(s.ch)
	close(s.ch)
	s.cancel()
}
