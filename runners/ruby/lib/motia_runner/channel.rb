# frozen_string_literal: true

require 'json'

module MotiaRunner
  # The byte channel to the core: private copies of the real stdin/stdout, newline framing.
  module Channel
    CHUNK = 64 * 1024
    DEFAULT_MAX_BYTES = 16 * 1024 * 1024

    module_function

    # Takes the real stdin/stdout for the protocol and returns private IOs for them. fd 1 itself
    # is pointed at stderr, which catches puts/print/p, $stdout and STDOUT writes, C extensions
    # writing to fd 1 and child processes alike; fd 0 is pointed at /dev/null so a
    # `system('cat')` in a handler cannot swallow protocol input. The copies are close-on-exec,
    # so children never see them.
    def claim_stdio
      $stdout.flush
      proto_in = $stdin.dup
      proto_out = $stdout.dup
      STDOUT.reopen(STDERR)
      STDIN.reopen(File::NULL)
      STDOUT.sync = true
      $stdout = $stderr
      [proto_in, proto_out].each(&:binmode)
      proto_out.sync = true
      [proto_in, proto_out]
    end
  end

  # Writes whole messages to the protocol IO, one line each. On the event loop's thread (every
  # fiber) a message is appended to a buffer that the loop writes once per turn, non-blocking
  # (what the pipe does not take now waits for it to be writable), so a turn's answers go out in
  # one write. Another thread (a handler's own, or every invocation with threads) writes the
  # buffer and its message itself, at once, as before: its messages are out before it goes on
  # (before its exception report reaches stderr, say). Lines never interleave or tear.
  class Writer
    attr_reader :io

    def initialize(io, on_broken, loop_thread)
      @io = io
      @on_broken = on_broken
      @loop_thread = loop_thread
      @mutex = Mutex.new
      @buf = String.new(encoding: Encoding::BINARY)
      @broken = false
    end

    def write(line)
      line = line.frozen? ? line.b : line.force_encoding(Encoding::BINARY) # our own frame: no copy
      if Thread.current.equal?(@loop_thread)
        @mutex.synchronize { @buf << line unless @broken } # one C call: no interrupt tears it
      else
        write_now(line)
      end
    end

    # Writes what the pipe takes now; true when nothing is left. On the loop's thread.
    def flush
      lost = false
      done = @mutex.synchronize do
        until @buf.empty?
          written = @io.write_nonblock(@buf, exception: false)
          break if written == :wait_writable

          @buf = written == @buf.bytesize ? String.new(encoding: Encoding::BINARY) : @buf.byteslice(written..)
        end
        @buf.empty?
      rescue IOError, SystemCallError
        @broken = true
        @buf = String.new(encoding: Encoding::BINARY)
        lost = true
      end
      @on_broken.call if lost # outside the lock: it may exit the process, which quiesces first
      done
    end

    # A thread other than the loop's: everything buffered, then this line, written at once. A
    # thread being cancelled (Thread#raise) is only interrupted once the line is out.
    def write_now(line)
      lost = Thread.handle_interrupt(Object => :never) do
        @mutex.synchronize do
          next false if @broken

          @buf << line
          begin
            @io.write(@buf)
            @buf = String.new(encoding: Encoding::BINARY)
            false
          rescue IOError, SystemCallError
            @broken = true
          end
        end
      end
      @on_broken.call if lost # outside the lock: it may exit the process, which quiesces first
    end

    # Before the process exits: writes what is left (for a bounded time), then takes no more.
    def quiesce(seconds = 1.0)
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + seconds
      until @broken || flush
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        break unless left.positive?

        IO.select(nil, [@io], nil, left)
      end
      @mutex.synchronize { @broken = true } # nothing after this point may start a new line
    rescue ThreadError # held by a thread that is gone with the process anyway
      @broken = true
    end
  end

  # The first and last bytes of a line over the limit, and its full length. An oversized line is
  # never held whole; its id is recovered from the head (top-level keys only: a nested "id",
  # say in an api body, must not be taken for it) or from the very last key.
  class Oversized
    HEAD_BYTES = 64 * 1024
    TAIL_BYTES = 4 * 1024
    LAST_ID = /,\s*"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*\z/n.freeze
    VALUE = /\G\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")/n.freeze

    attr_reader :size

    def initialize(first)
      @head = first.byteslice(0, HEAD_BYTES)
      @tail = first.bytesize > TAIL_BYTES ? first.byteslice(-TAIL_BYTES, TAIL_BYTES) : first.dup
      @size = first.bytesize
    end

    def add(data)
      @head << data.byteslice(0, HEAD_BYTES - @head.bytesize) if @head.bytesize < HEAD_BYTES
      @tail = (@tail + data)
      @tail = @tail.byteslice(-TAIL_BYTES, TAIL_BYTES) if @tail.bytesize > TAIL_BYTES
      @size += data.bytesize
    end

    # {"id" => ..., "method" => ...} as far as they can be found.
    def fields
      found = top_level_fields(@head)
      if !found.key?('id') && (match = LAST_ID.match(@tail))
        found['id'] = JSON.parse(match[1])
      end
      found
    end

    private

    def top_level_fields(head)
      found = {}
      depth = 0
      expect_key = false
      i = 0
      n = head.bytesize
      while i < n
        c = head.getbyte(i)
        if c == 0x22 # '"'
          stop = string_end(head, i)
          break if stop.negative?

          if depth == 1 && expect_key
            key = head.byteslice(i + 1, stop - i - 2)
            match = VALUE.match(head, stop)
            name = %w[id method].find { |wanted| wanted == key }
            found[name] = JSON.parse(match[1]) if name && match
          end
          expect_key = false
          i = stop
          next
        elsif [0x7B, 0x5B].include?(c) # { [
          depth += 1
          expect_key = c == 0x7B && depth == 1
        elsif [0x7D, 0x5D].include?(c) # } ]
          depth -= 1
          break if depth <= 0
        elsif c == 0x2C # ,
          expect_key = depth == 1
        end
        i += 1
      end
      found
    end

    # The index just past the string literal opening at `start`, or -1 when it is cut off.
    def string_end(data, start)
      i = start + 1
      loop do
        quote = data.index('"', i)
        return -1 if quote.nil?

        backslashes = 0
        k = quote - 1
        while k > start && data.getbyte(k) == 0x5C
          backslashes += 1
          k -= 1
        end
        return quote + 1 if backslashes.even?

        i = quote + 1
      end
    end
  end

  # Splits the protocol input into lines and enforces the per-line byte limit. Driven by the
  # event loop (#read_available when the input is readable), on the main thread.
  class LineReader
    attr_accessor :max_bytes
    attr_reader :io

    def initialize(io, on_line, on_oversized)
      @io = io
      @on_line = on_line
      @on_oversized = on_oversized
      @max_bytes = Channel::DEFAULT_MAX_BYTES
      @buf = String.new(encoding: Encoding::BINARY)
      @skip = nil
      @stopped = false
    end

    def stop
      @stopped = true
    end

    # Reads what the input has now and handles its whole lines; false at end of input.
    def read_available
      data = @io.read_nonblock(Channel::CHUNK, exception: false)
      return true if data == :wait_readable
      return false if data.nil?

      feed(data)
      true
    rescue IOError, SystemCallError
      false
    end

    def feed(data)
      start = 0
      if @skip || !@buf.empty?
        nl = data.index("\n")
        return carry(data) if nl.nil?

        finish_partial(data.byteslice(0, nl))
        start = nl + 1
      end
      while !@stopped && (nl = data.index("\n", start))
        if nl - start > @max_bytes
          @on_oversized.call(Oversized.new(data.byteslice(start, nl - start)))
        elsif nl > start
          @on_line.call(data.byteslice(start, nl - start))
        end
        start = nl + 1
      end
      carry(data.byteslice(start, data.bytesize - start)) if start < data.bytesize && !@stopped
    end

    private

    # Keeps the unterminated tail; once it passes the limit, keeps only its ends.
    def carry(data)
      return @skip.add(data) if @skip

      @buf << data
      return unless @buf.bytesize > @max_bytes

      @skip = Oversized.new(@buf)
      @buf = String.new(encoding: Encoding::BINARY)
    end

    def finish_partial(rest)
      if @skip
        skip = @skip
        @skip = nil
        skip.add(rest)
        return @on_oversized.call(skip)
      end
      line = @buf << rest
      @buf = String.new(encoding: Encoding::BINARY)
      if line.bytesize > @max_bytes
        @on_oversized.call(Oversized.new(line))
      elsif !line.strip.empty?
        @on_line.call(line)
      end
    end
  end
end
