# frozen_string_literal: true

module MotiaRunner
  # Timers in deadline order: a sorted Array (the live ones are about one per invocation in
  # flight, so inserting and removing by position is cheap), cancelled eagerly.
  class Timers
    Timer = Struct.new(:at, :callback)

    def initialize
      @entries = []
    end

    def add(at, callback)
      timer = Timer.new(at, callback)
      index = @entries.bsearch_index { |t| t.at > at } || @entries.length
      @entries.insert(index, timer)
      timer
    end

    def cancel(timer)
      return if timer.nil?

      index = @entries.bsearch_index { |t| t.at >= timer.at } or return
      while index < @entries.length && @entries[index].at == timer.at
        return @entries.delete_at(index) if @entries[index].equal?(timer)

        index += 1
      end
    end

    # Seconds until the first deadline (0 when one has passed), or nil when there is none.
    def wait(now)
      first = @entries.first
      return nil if first.nil?

      first.at > now ? first.at - now : 0
    end

    def fire(now)
      @entries.shift.callback.call while !@entries.empty? && @entries[0].at <= now
    end
  end

  # The runner's one event loop, on the main thread: it reads the protocol input and writes the
  # output (one write per turn for everything the turn produced), runs timers, and is the Fiber
  # scheduler (Fiber.set_scheduler) under which invocations run as non-blocking fibers, so a
  # handler's sleep, IO, Mutex/Queue/ConditionVariable waits, Thread#join, Process.wait and
  # Timeout.timeout suspend its fiber and let the others run. Built on IO.select only.
  #
  # Everything here runs on the loop's thread, except #unblock and #wake, which other threads
  # (a handler's own threads, a Process.wait helper) may call: they go through a locked list and
  # a self-pipe. A fiber is resumed only from the loop (the root fiber) or by Fiber.schedule's
  # caller, and each suspension has a number, so a late wake-up for an earlier wait is dropped.
  class EventLoop
    IoWaiter = Struct.new(:fiber, :events, :ready)

    attr_reader :thread

    def initialize
      @thread = Thread.current
      @timers = Timers.new
      @ready = [] # [fiber, wait number]
      @waiting = {}.compare_by_identity # fiber -> number of the wait it is suspended in
      @raise = {}.compare_by_identity # fiber -> exception to raise at its next resumption
      @seq = 0
      @readers = {} # io -> [IoWaiter]
      @writers = {}
      @foreign = [] # fibers woken by other threads
      @foreign_lock = Mutex.new
      @signalled = false
      @wake_r, @wake_w = IO.pipe
      @stopped = false
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # --- the loop -----------------------------------------------------------------------------

    # Serves `input` (a LineReader: read_available answers false at end of input) and `output`
    # (a Writer: flush answers true once everything is out) until #stop or end of input.
    def run(input, output)
      in_io = input.io
      out_io = output.io
      until @stopped
        run_ready
        break if @stopped

        out_waits = !output.flush
        break if @stopped

        timeout = @ready.empty? ? @timers.wait(now) : 0
        reads = [in_io, @wake_r, *@readers.keys]
        writes = @writers.keys
        writes << out_io if out_waits
        begin
          readable, writable, = IO.select(reads, writes, nil, timeout)
        rescue IOError, Errno::EBADF # a handler closed an IO another one waits on
          next if wake_closed

          raise
        end
        readable&.each do |io|
          if io.equal?(in_io)
            stop unless input.read_available
          elsif io.equal?(@wake_r)
            take_foreign
          else
            io_ready(@readers, io, IO::READABLE)
          end
        end
        writable&.each { |io| io_ready(@writers, io, IO::WRITABLE) unless io.equal?(out_io) }
        @timers.fire(now)
      end
    end

    def stop
      @stopped = true
    end

    # Runs `callback` on the loop after `seconds`; the answer is the handle for #cancel.
    def after(seconds, &callback)
      @timers.add(now + seconds, callback)
    end

    def cancel(timer)
      @timers.cancel(timer)
    end

    # Makes the fiber raise `exception` where it waits (now, if it is waiting; else at its next
    # wait). Loop thread only.
    def interrupt(fiber, exception)
      @raise[fiber] = exception
      resume_soon(fiber)
    end

    # Wakes the loop from another thread (the Writer, after a thread's message).
    def wake
      @foreign_lock.synchronize do
        return if @signalled

        @signalled = true
      end
      @wake_w.write_nonblock('.', exception: false)
    rescue IOError, SystemCallError
      nil
    end

    # --- Fiber scheduler interface --------------------------------------------------------------

    def io_wait(io, events, timeout)
      fiber = Fiber.current
      waiter = IoWaiter.new(fiber, events, 0)
      (@readers[io] ||= []) << waiter if events.anybits?(IO::READABLE | IO::PRIORITY)
      (@writers[io] ||= []) << waiter if events.anybits?(IO::WRITABLE)
      timer = after(timeout) { resume_soon(fiber) } if timeout
      suspend(fiber)
      waiter.ready.zero? ? false : waiter.ready
    ensure
      forget(@readers, io, waiter)
      forget(@writers, io, waiter)
      cancel(timer)
    end

    def kernel_sleep(duration = nil)
      fiber = Fiber.current
      timer = after(duration) { resume_soon(fiber) } if duration
      suspend(fiber)
      true
    ensure
      cancel(timer)
    end

    # Mutex, Queue, ConditionVariable, Thread#join: true when woken, false when timed out.
    def block(_blocker, timeout = nil)
      fiber = Fiber.current
      timed_out = false
      timer = after(timeout) { (timed_out = true) && resume_soon(fiber) } if timeout
      suspend(fiber)
      !timed_out
    ensure
      cancel(timer)
    end

    # May be called from any thread.
    #
    # From another thread this is often a Mutex handed to a fiber (the Writer's, the Endpoint's,
    # an Invocation's: handler threads take them too). Ruby wakes only the first waiter of a
    # Mutex; when the loop itself (the root fiber, which blocks the thread) waits behind that
    # fiber for the same Mutex, it would sleep on although the Mutex is free, and the fiber
    # would wait for the loop: a deadlock. Thread#wakeup makes the loop's wait look again.
    def unblock(_blocker, fiber)
      if Thread.current.equal?(@thread)
        resume_soon(fiber)
      else
        @foreign_lock.synchronize { @foreign << fiber }
        wake
        begin
          @thread.wakeup
        rescue ThreadError # the loop's thread is gone: nothing to wake
          nil
        end
      end
    end

    # Timeout.timeout in a fiber: the exception is raised where the fiber waits.
    def timeout_after(duration, exception_class, *message)
      fiber = Fiber.current
      timer = after(duration) { interrupt(fiber, exception_class.new(*message)) }
      yield duration
    ensure
      cancel(timer)
      @raise.delete(fiber) if timer && @raise[fiber].is_a?(exception_class)
    end

    # Process.wait, system, `...`: the wait happens in a helper thread; this fiber waits on it.
    def process_wait(pid, flags)
      Thread.new { Process::Status.wait(pid, flags) }.value
    end

    def address_resolve(hostname)
      require 'socket'
      Thread.new { Addrinfo.getaddrinfo(hostname.split('%', 2).first, nil).map(&:ip_address).uniq }.value
    end

    # Fiber.schedule: runs the block in a new non-blocking fiber, at once, until it first waits.
    def fiber(&block)
      fiber = Fiber.new(blocking: false) do
        block.call
      rescue SignalException
        raise
      rescue Exception => e # rubocop:disable Lint/RescueException -- as a Thread would report it
        warn "motia-ruby-runner: a fiber ended with #{e.class}: #{e.message}\n\t" \
             "#{(e.backtrace || []).first(20).join("\n\t")}"
      end
      fiber.resume
      fiber
    end

    def close; end

    private

    def suspend(fiber)
      exception = @raise.delete(fiber)
      raise exception if exception

      @waiting[fiber] = (@seq += 1)
      Fiber.yield
    ensure
      @waiting.delete(fiber)
    end

    def resume_soon(fiber)
      number = @waiting[fiber]
      @ready << [fiber, number] if number
      true
    end

    def run_ready
      until @ready.empty?
        batch = @ready
        @ready = []
        batch.each do |fiber, number|
          next unless @waiting[fiber] == number

          @waiting.delete(fiber)
          exception = @raise.delete(fiber)
          exception ? fiber.raise(exception) : fiber.resume
        end
      end
    end

    def io_ready(table, io, event)
      table[io]&.each do |waiter|
        waiter.ready |= event
        resume_soon(waiter.fiber)
      end
    end

    # Wakes the fibers waiting on closed IOs: their read or write then raises in their handler.
    # False when there is none (the loop's own IOs failed: the runner cannot go on).
    def wake_closed
      woken = false
      [@readers, @writers].each do |table|
        table.each do |io, waiters|
          next unless io.closed?

          waiters.each do |waiter|
            waiter.ready |= waiter.events
            woken = resume_soon(waiter.fiber)
          end
        end
      end
      woken
    end

    def forget(table, io, waiter)
      list = table[io] or return
      list.delete(waiter)
      table.delete(io) if list.empty?
    end

    # Empties the pipe first: a wake after that finds @signalled false and writes again.
    def take_foreign
      loop do
        break unless @wake_r.read_nonblock(256, exception: false).is_a?(String)
      end
      fibers = @foreign_lock.synchronize do
        @signalled = false
        taken = @foreign
        @foreign = []
        taken
      end
      fibers.each { |fiber| resume_soon(fiber) }
    end
  end
end
