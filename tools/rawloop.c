/* An independent raw read/write loop, to cross-check `procwire bench`'s raw-loop figures.
 *
 *   rawloop KIND CHUNK SECONDS WRITER_CPU READER_CPU [CAPACITY]
 *
 * KIND is pipes, socketpair or loopback. A forked reader pinned to READER_CPU reads CHUNK-sized
 * buffers until EOF and sends back its byte count; the writer, pinned to WRITER_CPU, writes an
 * untimed warm-up of 4 MiB (or 4x the buffers), then CHUNK-sized writes for SECONDS. Prints the
 * timed throughput in GB/s (1e9 bytes per second). Only libc; no procwire code. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static void die(const char *what) { perror(what); exit(1); }
static void pin(int cpu) {
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(cpu, &s);
  if (sched_setaffinity(0, sizeof s, &s)) die("sched_setaffinity");
}
static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: rawloop pipes|socketpair|loopback CHUNK SECONDS WCPU RCPU [CAPACITY]\n");
    return 2;
  }
  const char *kind = argv[1];
  size_t chunk = strtoul(argv[2], 0, 10);
  double secs = atof(argv[3]);
  int wcpu = atoi(argv[4]), rcpu = atoi(argv[5]);
  int cap = argc > 6 ? atoi(argv[6]) : 0;
  int w_out, w_in, r_in, r_out; /* writer's data fd and reply fd; reader's */
  size_t bufs = 0;
  if (!strcmp(kind, "pipes")) {
    int a[2], b[2];
    if (pipe(a) || pipe(b)) die("pipe");
    if (cap) { fcntl(a[1], F_SETPIPE_SZ, cap); fcntl(b[1], F_SETPIPE_SZ, cap); }
    bufs = (size_t)fcntl(a[1], F_GETPIPE_SZ) * 2;
    w_out = a[1]; r_in = a[0]; r_out = b[1]; w_in = b[0];
  } else if (!strcmp(kind, "socketpair")) {
    int s[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, s)) die("socketpair");
    for (int i = 0; cap && i < 2; i++) {
      setsockopt(s[i], SOL_SOCKET, SO_SNDBUF, &cap, sizeof cap);
      setsockopt(s[i], SOL_SOCKET, SO_RCVBUF, &cap, sizeof cap);
    }
    int v; socklen_t l = sizeof v;
    getsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &v, &l);
    bufs = (size_t)v * 2;
    w_out = w_in = s[0]; r_in = r_out = s[1];
  } else {
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(ls, (void *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (void *)&a, &l)) die("listen");
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (void *)&a, sizeof a)) die("connect");
    int s = accept(ls, 0, 0);
    if (s < 0) die("accept");
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int v; socklen_t vl = sizeof v;
    getsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, &vl);
    bufs = (size_t)v * 2;
    close(ls);
    w_out = w_in = c; r_in = r_out = s;
  }
  char *buf = malloc(chunk);
  if (!buf) die("malloc");
  memset(buf, 0xa5, chunk); /* real pages: calloc could leave them on the shared zero page */
  pid_t pid = fork();
  if (pid == 0) {
    close(w_out);
    if (w_in != w_out) close(w_in);
    pin(rcpu);
    uint64_t total = 0;
    for (;;) {
      ssize_t n = read(r_in, buf, chunk);
      if (n < 0) die("read");
      if (n == 0) break;
      total += (uint64_t)n;
    }
    write_all(r_out, (char *)&total, sizeof total);
    _exit(0);
  }
  close(r_in);
  if (r_out != r_in) close(r_out);
  pin(wcpu);
  size_t warm = 4u << 20;
  if (4 * bufs > warm) warm = 4 * bufs;
  uint64_t sent = 0;
  while (sent < warm) { write_all(w_out, buf, chunk); sent += chunk; }
  uint64_t timed_from = sent;
  size_t every = (1u << 20) / chunk ? (1u << 20) / chunk : 1;
  double t0 = now();
  while (now() - t0 < secs)
    for (size_t i = 0; i < every; i++) { write_all(w_out, buf, chunk); sent += chunk; }
  if (w_out == w_in) shutdown(w_out, SHUT_WR); else close(w_out);
  uint64_t counted = 0;
  size_t got = 0;
  while (got < sizeof counted) {
    ssize_t n = read(w_in, (char *)&counted + got, sizeof counted - got);
    if (n <= 0) die("read count");
    got += (size_t)n;
  }
  double t1 = now();
  waitpid(pid, 0, 0);
  if (counted != sent) { fprintf(stderr, "counted %llu, sent %llu\n", (unsigned long long)counted, (unsigned long long)sent); return 1; }
  printf("%.4f\n", (double)(sent - timed_from) / (t1 - t0) / 1e9);
  return 0;
}
