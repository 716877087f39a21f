#!/usr/bin/env python3
"""Replays one captured batch script call against a local Redis and prints the Redis time per batch member.

What a batch member costs Redis is hard to see in the throughput benchmarks (client and server share two cores, and
other work moves the figures by more than a change). This replays the same call, on keys in steady state, on an idle
server, and reads the script's own time from INFO commandstats, so two versions of the script can be compared side by
side (alternating, least of several runs).

Capture a call from a benchmark run against a server you started yourself, e.g.:

    redis-server --port 6391 --save '' --daemonize yes
    redis-cli -p 6391 monitor > /tmp/monitor.txt &        # stop it after the run
    EMAILGUARD_REDIS=127.0.0.1:6391 dotnet run -c Release --project tests/EmailGuard.Benchmarks -- redis-throughput-guard 3000 1

then compare the batch script of two checkouts (the longest EVALSHA in the capture is replayed; FLUSHALL first):

    python3 eng/replay-batch-script.py --port 6391 --monitor /tmp/monitor.txt \\
        /path/to/base/src/EmailGuard.Redis/RateLimiting \\
        src/EmailGuard.Redis/RateLimiting

The script text is read from the C# raw string constants (AcquireManyScriptText and the constants it concatenates) of
the RedisRateLimitStore.Scripts*.cs files in each folder (a file names its folder, for checkouts that kept every
script in RedisRateLimitStore.Scripts.cs).
Never point it at a server that holds data: it flushes the database.
"""
import argparse
import glob
import os
import re
import shlex
import socket


def script_text(path, name='AcquireManyScriptText'):
    """The Lua text of a script constant, with the constants it is concatenated from."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    source = '\n'.join(open(f, encoding='utf-8').read()
                       for f in sorted(glob.glob(os.path.join(folder, 'RedisRateLimitStore.Scripts*.cs'))))
    constants = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r'const string (\w+) = ([\w +]*)"""\n(.*?)\n\s*""";', source, re.S)}
    # A constant that only concatenates others (AcquireManyScriptText) has no raw string of its own.
    constants.update({m.group(1): (m.group(2), None) for m in re.finditer(r'const string (\w+) = ([\w +]+);', source)})

    def resolve(constant):
        parts, body = constants[constant]
        prefix = ''.join(resolve(p.strip()) for p in parts.split('+') if p.strip())
        return prefix if body is None else prefix + body + '\n'

    return '\n'.join(line.strip() for line in resolve(name).split('\n'))


class Resp:
    """A minimal RESP2 client: enough for EVALSHA, SCRIPT LOAD, INFO and CONFIG."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port))
        self.file = self.sock.makefile('rb')

    def call(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(out))
        return self.read()

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b'+':
            return rest.decode()
        if kind == b'-':
            raise RuntimeError(rest.decode())
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        n = int(rest)
        return None if n < 0 else [self.read() for _ in range(n)]


def captured_call(monitor):
    """The keys count and the keys and arguments of the longest EVALSHA in a MONITOR capture."""
    line = max((l for l in open(monitor, encoding='utf-8', errors='replace') if '"EVALSHA"' in l), key=len)
    words = shlex.split(line.split('] ', 1)[1])
    return words[2], words[3:]


def us_per_member(redis, text, numkeys, values, calls, runs):
    redis.call('FLUSHALL')
    sha = redis.call('SCRIPT', 'LOAD', text).decode()
    redis.call('EVALSHA', sha, numkeys, *values)  # creates the counters: later calls find them in steady state
    members = int(values[int(numkeys)])
    best = None
    for _ in range(runs):
        redis.call('CONFIG', 'RESETSTAT')
        for _ in range(calls):
            redis.call('EVALSHA', sha, numkeys, *values)
        stats = redis.call('INFO', 'commandstats').decode()
        us = float(re.search(r'cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)', stats).group(1))
        best = us if best is None else min(best, us)
    return best / members


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--monitor', required=True, help='a redis-cli MONITOR capture of a benchmark run')
    parser.add_argument('--passes', type=int, default=3, help='alternating passes over the scripts')
    parser.add_argument('--calls', type=int, default=200, help='calls per run')
    parser.add_argument('--runs', type=int, default=7, help='runs per pass; the least is reported')
    parser.add_argument('scripts', nargs='+', help='RateLimiting folders (or a RedisRateLimitStore.Scripts*.cs file in each) to compare')
    options = parser.parse_args()
    numkeys, values = captured_call(options.monitor)
    redis = Resp(options.port)
    texts = [script_text(p) for p in options.scripts]
    results = {p: [] for p in options.scripts}
    for _ in range(options.passes):
        for path, text in zip(options.scripts, texts):
            results[path].append(us_per_member(redis, text, numkeys, values, options.calls, options.runs))
    print(f'members per call: {values[int(numkeys)]}, keys: {numkeys}, arguments: {len(values) - int(numkeys)}')
    for path in options.scripts:
        print(f'{path}: ' + ' '.join(f'{us:.2f}' for us in results[path]) + ' us per member')


if __name__ == '__main__':
    main()
