package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tiergate/tiergate/internal/bench/workload"
	"github.com/tiergate/tiergate/internal/openaiwire"
)

// This file is the engine's seam to Options.Workload: requests come from
// the source's conversations, a trace step's arrivals from its times,
// and a gamma step's from workload.Gamma.

// validateWorkload checks the options that concern the workload.
func (o *Options) validateWorkload() error {
	w := o.Workload
	if w != nil && len(o.Prompts) > 0 {
		return errors.New("give a prompts file or a workload, not both")
	}
	if o.Burstiness < 0 {
		return errors.New("burstiness must be positive (1 is Poisson; below 1 burstier)")
	}
	_, timed := w.(workload.Timed)
	for _, s := range o.Steps {
		switch {
		case s.Arrival == Trace && !timed:
			return errors.New("a trace step needs a trace to replay")
		case s.Arrival == Trace && s.Concurrency > 0:
			return errors.New("a trace step is open-loop: it has no concurrency")
		case s.Arrival == Gamma && s.Concurrency == 0 && !(o.Burstiness > 0):
			return errors.New("gamma arrivals need a burstiness (1 is Poisson; below 1 burstier)")
		case w != nil && w.Turns() > 1 && s.Concurrency == 0:
			return fmt.Errorf("step %s: multi-turn conversations run in closed-loop steps (concurrency): each turn waits for the answer before it", s.Label())
		}
	}
	if m := o.FindMaxRate; m != nil && m.Arrival == Gamma && !(o.Burstiness > 0) {
		return errors.New("gamma arrivals need a burstiness")
	}
	if m := o.FindMaxRate; m != nil && w != nil && w.Turns() > 1 {
		return errors.New("the rate search runs open-loop steps: multi-turn conversations need closed-loop ones")
	}
	return nil
}

// workloadSpec describes the run's workload for results.json.
func workloadSpec(o *Options) *workload.Spec {
	switch {
	case o.Workload != nil:
		s := o.Workload.Spec()
		return &s
	case len(o.Prompts) > 0:
		return &workload.Spec{Source: "prompts", Seed: o.Seed, File: o.PromptsFile, Conversations: len(o.Prompts)}
	}
	return &workload.Spec{Source: "synthetic", Seed: o.Seed, InputLen: workload.Fixed(o.PromptTokens).String()}
}

// promptOf is the Prompt of a workload request.
func promptOf(r workload.Request, keepAnswer bool) Prompt {
	p := Prompt{Messages: openaiwire.MustMarshal(r.Messages), MaxTokens: r.MaxTokens, keepAnswer: keepAnswer}
	if r.IgnoreEOS {
		p.MinTokens, p.IgnoreEOS = r.MaxTokens, true
	}
	return p
}

// sourcePrompt is request i of a single-request step: the first turn of
// conversation i.
func (e *engine) sourcePrompt(i int) Prompt {
	r, _ := e.o.Workload.Conversation(i).Start().Next()
	return promptOf(r, false)
}

// cursor hands one closed-loop worker its requests. With a multi-turn
// workload it holds the worker's conversation: each request is its next
// turn, carrying the answers so far, and a new conversation (the next
// number of the step's counter) starts when one ends or a turn fails.
// Otherwise request i is e.prompt(i).
type cursor struct {
	e     *engine
	convs *atomic.Int64
	s     *workload.Session
}

func (e *engine) cursor(convs *atomic.Int64) *cursor { return &cursor{e: e, convs: convs} }

func (c *cursor) next(i int) Prompt {
	w := c.e.o.Workload
	if w == nil || w.Turns() <= 1 {
		return c.e.prompt(i)
	}
	for range 2 {
		if c.s == nil {
			c.s = w.Conversation(int(c.convs.Add(1) - 1)).Start()
		}
		if r, ok := c.s.Next(); ok {
			return promptOf(r, true)
		}
		c.s = nil
	}
	return c.e.prompt(i) // a conversation of no turns: not made by workload.New
}

// done tells the cursor how its last request went.
func (c *cursor) done(r *Record) {
	switch {
	case c.s == nil:
	case r.OK:
		c.s.Answer(r.answer)
		r.answer = "" // the session holds it now
	default:
		c.s = nil
	}
}

// arrival returns request i's offset from an open-loop step's start: a
// trace's time, or the previous offset plus the schedule's next gap.
func (e *engine) arrival(s Step, sched *schedule, i int, prev time.Duration) (time.Duration, bool) {
	if s.Arrival == Trace {
		return e.o.Workload.(workload.Timed).At(i)
	}
	if i == 0 {
		return 0, true
	}
	return prev + sched.next(), true
}

// answerText is the answer's text (content only, not reasoning), for the
// next turn's history.
func (r *recorder) answerText() string {
	var b []byte
	begin := 0
	for _, end := range r.ends {
		var c chunkProbe
		if json.Unmarshal(r.data[begin:end], &c) == nil {
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil {
					b = append(b, *ch.Delta.Content...)
				}
			}
		}
		begin = end
	}
	return string(b)
}
