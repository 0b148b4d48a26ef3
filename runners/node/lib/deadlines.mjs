// Invocation deadlines (step.invoke timeoutMs) on one Node timer.
//
// A setTimeout per invocation cost about 1 us with the AsyncLocalStorage on (a Timeout object, an
// async-hooks init, Node's timer list), and nearly every invocation ends long before its
// deadline. Deadlines of one length are added in time order, so each length keeps a FIFO list;
// an invocation that ends unlinks its entry, and the single timer, armed for the earliest
// deadline, is moved only when it fires (then it fires what is due and re-arms for the next).

import { performance } from 'node:perf_hooks';

/** A deadline: `fire()` runs once `at` (performance.now() milliseconds) has passed. */
class Entry {
  constructor(list, at, fire) {
    this.list = list;
    this.at = at;
    this.fire = fire;
    this.prev = list.tail;
    this.next = null;
  }
}

/** The deadlines of one length, earliest first. */
class List {
  constructor(ms) {
    this.ms = ms;
    this.head = null;
    this.tail = null;
  }
}

export class Deadlines {
  constructor() {
    this.lists = new Map(); // length in ms -> List
    this.timer = null;
    this.timerAt = Infinity;
  }

  /** Run `fire()` after `ms` milliseconds unless cancel() comes first; returns the handle. */
  add(ms, fire) {
    let list = this.lists.get(ms);
    if (list === undefined) {
      list = new List(ms);
      this.lists.set(ms, list);
    }
    const entry = new Entry(list, performance.now() + ms, fire);
    if (list.tail === null) list.head = entry;
    else list.tail.next = entry;
    list.tail = entry;
    if (entry.at < this.timerAt) this.arm(entry.at);
    return entry;
  }

  cancel(entry) {
    const { list } = entry;
    if (list === null) return;
    if (entry.prev === null) list.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) list.tail = entry.prev;
    else entry.next.prev = entry.prev;
    if (list.head === null) this.lists.delete(list.ms); // lengths need not repeat
    entry.list = null;
    entry.prev = null;
    entry.next = null;
  }

  arm(at) {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    // Node's timers have millisecond steps: never early, at most a step late.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(at - performance.now())));
  }

  expire() {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const list of [...this.lists.values()]) {
      while (list.head !== null && list.head.at <= now) {
        const entry = list.head;
        this.cancel(entry);
        entry.fire();
      }
      if (list.head !== null && list.head.at < next) next = list.head.at;
    }
    if (next < this.timerAt) this.arm(next);
  }
}
