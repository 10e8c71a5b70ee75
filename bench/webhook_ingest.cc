// webhook_ingest: how many signed GitHub deliveries orch's receiver takes per second, each
// committed to the SQLite inbox before its 2xx, at concurrency 1, 16 and 64; beside the cost of
// one HMAC-SHA256 verify and one single-delivery SQLite commit measured in the same run.
//
// The receiver is the real one (WebhookServer + InboxWriter + Store in a temp dir, WAL;
// each batch's payloads fdatasync'd and its inbox commit synchronous=FULL, so every 202 is on
// stable storage) on 127.0.0.1. It prints how many payload syncs and durable commits the levels
// made, and fails unless every batch had both. (Run it on the disk orch will use: on tmpfs a
// sync costs nothing.) The load generator is bundled: one epoll thread driving N
// keep-alive connections, each sending 8 KB `issues.labeled` bodies that are all different
// (unique delivery id and body, so none is deduplicated), each correctly signed. Delivery ids
// are random UUIDs as GitHub sends them, so the inbox's id index takes its inserts at random
// places; `seq` as the second argument sends "bench-N" instead, near-sequential (cheaper). It
// checks every answer is 202, that every connection was served, and afterwards that the inbox
// holds exactly as many deliveries as were acknowledged.
//
// Run: build/orch_webhook_bench [seconds per level, default 3] [uuid|seq]. Figures are printed;
// nothing is asserted beyond the correctness checks above (exit 1 if one fails).
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "github/webhook_signature.h"
#include "receiver/http_receiver.h"
#include "receiver/inbox_writer.h"
#include "receiver/webhook_server.h"
#include "store/payload_log.h"
#include "store/sql.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kSecret = "bench-secret";

bool g_sequential_ids = false;  // "bench-N" rather than random UUIDs

// The n-th delivery id with prefix `kind`: a random version-4 UUID like GitHub's, or kind-n.
std::string DeliveryId(const char* kind, long n) {
  if (g_sequential_ids) return std::string(kind) + "-" + std::to_string(n);
  static std::mt19937_64 rng(12345);
  static const char* kHex = "0123456789abcdef";
  uint64_t a = rng(), b = rng();
  std::string id;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id.push_back('-');
    uint64_t word = i < 16 ? a : b;
    int digit = static_cast<int>(word >> ((i % 16) * 4) & 15);
    if (i == 12) digit = 4;
    if (i == 16) digit = 8 | (digit & 3);
    id.push_back(kHex[digit]);
  }
  return id;
}

// HMAC-SHA256 with the inner hash of (key ^ ipad) || prefix computed once, so signing a body
// that differs only in its tail costs one short hash, not 8 KB of hashing on the client's CPU.
class PrefixSigner {
 public:
  PrefixSigner(std::string_view key, std::string_view prefix) {
    unsigned char k[64] = {0};
    memcpy(k, key.data(), key.size());  // keys here are shorter than the block
    unsigned char ipad[64], opad[64];
    for (int i = 0; i < 64; ++i) {
      ipad[i] = k[i] ^ 0x36;
      opad[i] = k[i] ^ 0x5c;
    }
    inner_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(inner_, EVP_sha256(), nullptr);
    EVP_DigestUpdate(inner_, ipad, 64);
    EVP_DigestUpdate(inner_, prefix.data(), prefix.size());
    outer_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(outer_, EVP_sha256(), nullptr);
    EVP_DigestUpdate(outer_, opad, 64);
    work_ = EVP_MD_CTX_new();
  }
  ~PrefixSigner() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
  }
  std::string Sign(std::string_view tail) {
    unsigned char inner[32], mac[32];
    unsigned int n = 0;
    EVP_MD_CTX_copy_ex(work_, inner_);
    EVP_DigestUpdate(work_, tail.data(), tail.size());
    EVP_DigestFinal_ex(work_, inner, &n);
    EVP_MD_CTX_copy_ex(work_, outer_);
    EVP_DigestUpdate(work_, inner, 32);
    EVP_DigestFinal_ex(work_, mac, &n);
    static const char* kHex = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned char c : mac) {
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
    return out;
  }

 private:
  EVP_MD_CTX* inner_;
  EVP_MD_CTX* outer_;
  EVP_MD_CTX* work_;
};

// An 8 KB issues.labeled payload shaped like GitHub's, open at the end for a unique tail.
std::string PayloadPrefix() {
  std::string body =
      R"({"action":"labeled","issue":{"url":"https://api.github.com/repos/acme/widgets/issues/7",)"
      R"("number":7,"title":"Fix the frobnicator","user":{"login":"alice","id":1,"type":"User"},)"
      R"("labels":[{"id":1,"name":"orch","color":"ededed"}],"state":"open","body":")";
  body += std::string(7600, 'x');
  body += R"("},"label":{"id":1,"name":"orch","color":"ededed"},)"
          R"("repository":{"id":42,"name":"widgets","full_name":"acme/widgets","private":false},)"
          R"("sender":{"login":"alice","id":1,"type":"User"},"nonce":")";
  return body;
}

struct Conn {
  int fd = -1;
  std::string out;  // request being written
  size_t written = 0;
  std::string in;
  Clock::time_point sent;
  int served = 0;
};

struct LevelResult {
  int concurrency = 0;
  double seconds = 0;
  long ok = 0;
  long errors = 0;
  int connections_served = 0;
  std::vector<double> latencies_us;
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

class Load {
 public:
  explicit Load(int port) : port_(port), prefix_(PayloadPrefix()), signer_(kSecret, prefix_) {
    // The shortcut must agree with the real thing, or the bench measures 401s.
    std::string tail = "check\"}";
    if (signer_.Sign(tail) != orch::SignBody(kSecret, prefix_ + tail)) {
      fprintf(stderr, "prefix signer disagrees with SignBody\n");
      exit(1);
    }
  }

  void NextRequest(Conn& c) {
    std::string tail = std::to_string(seq_) + "\"}";
    std::string id = DeliveryId("bench", seq_++);
    size_t len = prefix_.size() + tail.size();
    c.out =
        "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: GitHub-Hookshot/bench\r\n"
        "Content-Type: application/json\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: " +
        id + "\r\nX-Hub-Signature-256: " + signer_.Sign(tail) +
        "\r\nContent-Length: " + std::to_string(len) + "\r\n\r\n";
    c.out += prefix_;
    c.out += tail;
    c.written = 0;
    c.in.clear();
    c.sent = Clock::now();
  }

  // A full response in c.in? Returns its status, 0 if incomplete.
  static int Complete(const Conn& c) {
    size_t head = c.in.find("\r\n\r\n");
    if (head == std::string::npos) return 0;
    size_t cl = c.in.find("Content-Length: ");
    size_t len = cl == std::string::npos || cl > head ? 0 : atol(c.in.c_str() + cl + 16);
    if (c.in.size() < head + 4 + len) return 0;
    return atoi(c.in.c_str() + 9);
  }

  static void Watch(int ep, const Conn& c, uint32_t i, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = i;
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  }

  LevelResult Run(int concurrency, double seconds) {
    LevelResult r;
    r.concurrency = concurrency;
    int ep = epoll_create1(0);
    std::vector<Conn> conns(concurrency);
    for (int i = 0; i < concurrency; ++i) {
      conns[i].fd = Connect(port_);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT;  // the first request goes out when writable
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
      NextRequest(conns[i]);
    }
    Clock::time_point start = Clock::now();
    Clock::time_point end =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    bool stopping = false;
    int in_flight = concurrency;
    std::vector<epoll_event> events(concurrency);
    char buf[4096];
    while (in_flight > 0) {
      if (!stopping && Clock::now() >= end) stopping = true;
      int n = epoll_wait(ep, events.data(), concurrency, 100);
      for (int e = 0; e < n; ++e) {
        uint32_t i = events[e].data.u32;
        Conn& c = conns[i];
        if (c.written < c.out.size()) {
          ssize_t w = write(c.fd, c.out.data() + c.written, c.out.size() - c.written);
          if (w > 0) c.written += static_cast<size_t>(w);
          // Wait for writability only while a request is half sent; else the loop would spin.
          if (c.written == c.out.size()) Watch(ep, c, i, EPOLLIN);
        }
        ssize_t got;
        while ((got = read(c.fd, buf, sizeof(buf))) > 0) c.in.append(buf, static_cast<size_t>(got));
        int status = Complete(c);
        if (status == 0) continue;
        double us = std::chrono::duration<double, std::micro>(Clock::now() - c.sent).count();
        r.latencies_us.push_back(us);
        if (status == 202) {
          ++r.ok;
        } else {
          ++r.errors;
        }
        ++c.served;
        if (stopping) {
          --in_flight;
          epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
          close(c.fd);
          c.out.clear();
          c.written = 0;
        } else {
          NextRequest(c);
          // Try to send at once; EPOLLOUT covers what does not fit.
          ssize_t w = write(c.fd, c.out.data(), c.out.size());
          if (w > 0) c.written = static_cast<size_t>(w);
          if (c.written < c.out.size()) Watch(ep, c, i, EPOLLIN | EPOLLOUT);
        }
      }
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (const Conn& c : conns) r.connections_served += c.served > 0;
    close(ep);
    return r;
  }

 private:
  int port_;
  std::string prefix_;
  PrefixSigner signer_;
  long seq_ = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
  return v[k];
}

// Mean microseconds of `f` over `n` runs.
template <typename F>
double MeanMicros(int n, F f) {
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < n; ++i) f(i);
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / n;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  g_sequential_ids = argc > 2 && std::string(argv[2]) == "seq";
  std::string tmpl = (std::filesystem::temp_directory_path() / "orch-wh-bench-XXXXXX").string();
  std::string dir = mkdtemp(tmpl.data());
  orch::SystemClock clock;

  // The two costs the receiver is made of, measured here first.
  std::string body = PayloadPrefix() + "x\"}";
  std::string sig = orch::SignBody(kSecret, body);
  volatile bool sink = false;
  double hmac_us =
      MeanMicros(20000, [&](int) { sink = orch::VerifySignature(kSecret, body, sig); });
  double commit_us;
  {
    auto store = std::move(orch::Store::Open(dir + "/single.db", clock)).value();
    commit_us = MeanMicros(2000, [&](int i) {
      std::string b = body + std::to_string(i);
      (void)store->StoreDelivery({DeliveryId("single", i), "issues", "labeled", "acme/widgets", b});
    });
  }

  double batch_us;  // one transaction carrying 16, as the group commit does under load
  {
    auto store = std::move(orch::Store::Open(dir + "/batch.db", clock)).value();
    batch_us = MeanMicros(300, [&](int i) {
      std::vector<orch::NewDelivery> batch;
      for (int j = 0; j < 16; ++j) {
        std::string n = std::to_string(i * 16 + j);
        batch.push_back(
            {DeliveryId("batch", i * 16 + j), "issues", "labeled", "acme/widgets", body + n});
      }
      (void)store->StoreDeliveries(batch);
    });
  }

  // The ceilings: HTTP and the signature check, answering without storing. First the receiver
  // orch uses (HttpReceiver), then cpp-httplib set up as orch used to (thread per connection),
  // for comparison.
  auto bare_level = [&](int port) {
    Load load(port);
    LevelResult r = load.Run(16, seconds);
    return std::make_pair(static_cast<double>(r.ok) / r.seconds,
                          Percentile(r.latencies_us, 0.99) / 1000);
  };
  std::pair<double, double> receiver_only, httplib_only;
  {
    orch::HttpReceiver bare({}, [](orch::HttpRequest& req, orch::HttpReceiver::Ticket) {
      bool ok = orch::VerifySignature(kSecret, req.body, req.Header("X-Hub-Signature-256"));
      return std::optional<orch::HttpReply>(
          orch::HttpReply{.status = ok ? 202 : 401, .body = "{\"status\":\"stored\"}"});
    });
    if (!bare.Start().ok()) return 1;
    receiver_only = bare_level(bare.port());
  }
  {
    httplib::Server bare;
    bare.new_task_queue = [] { return new httplib::ThreadPool(128); };
    bare.set_tcp_nodelay(true);
    bare.set_keep_alive_max_count(1'000'000);
    bare.Post("/webhook", [](const httplib::Request& req, httplib::Response& res) {
      bool ok =
          orch::VerifySignature(kSecret, req.body, req.get_header_value("X-Hub-Signature-256"));
      res.status = ok ? 202 : 401;
      res.set_content("{\"status\":\"stored\"}", "application/json");
    });
    int port = bare.bind_to_any_port("127.0.0.1");
    std::thread serving([&] { bare.listen_after_bind(); });
    httplib_only = bare_level(port);
    bare.stop();
    serving.join();
  }

  std::string db = dir + "/orch.db";
  auto store = std::move(orch::Store::Open(db, clock)).value();
  orch::InboxWriter inbox(*store, std::move(orch::Store::Open(db, clock)).value());
  orch::WebhookServer server({.port = 0, .secret = kSecret}, inbox, clock, nullptr);
  if (orch::Status s = server.Start(); !s.ok()) {
    fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  Load load(server.port());
  printf(
      "webhook_ingest: 8 KB signed issues.labeled, each committed to the SQLite inbox "
      "(WAL) and on stable storage before its 202 (payload fdatasync, synchronous=FULL commit); "
      "delivery ids %s\n",
      g_sequential_ids ? "bench-N (near-sequential)" : "random UUIDs");
  printf("  one HMAC-SHA256 verify of the body:        %8.1f us\n", hmac_us);
  printf("  one durable commit of one delivery:        %8.1f us  (at most %.0f/s one by one)\n",
         commit_us, 1e6 / commit_us);
  printf("  one durable commit of 16 deliveries:       %8.1f us  (%.1f us per delivery)\n",
         batch_us, batch_us / 16);
  printf("  HTTP + signature check, storing nothing, c=16: %8.0f/s  (p99 %.2f ms)\n",
         receiver_only.first, receiver_only.second);
  printf("    the same with cpp-httplib (thread per connection): %8.0f/s  (p99 %.2f ms)\n",
         httplib_only.first, httplib_only.second);
  printf("  %-5s %12s %9s %9s %7s %12s %12s %11s\n", "conc", "deliveries/s", "p50 ms", "p99 ms",
         "errors", "conns served", "per commit", "writer busy");
  long acknowledged = 0;
  bool failed = false;
  uint64_t commits_before = inbox.commits(), durable_before = store->durable_commits();
  uint64_t syncs_before = store->payload_log()->syncs();
  for (int c : {1, 16, 64}) {
    uint64_t commits0 = inbox.commits(), submitted0 = inbox.submitted();
    uint64_t busy0 = inbox.commit_micros();
    LevelResult r = load.Run(c, seconds);
    acknowledged += r.ok;
    double per_commit = static_cast<double>(inbox.submitted() - submitted0) /
                        static_cast<double>(std::max<uint64_t>(1, inbox.commits() - commits0));
    double busy = static_cast<double>(inbox.commit_micros() - busy0) / 1e6 / r.seconds;
    printf("  c=%-3d %12.0f %9.2f %9.2f %7ld %9d/%-3d %11.1f %10.0f%%\n", c,
           static_cast<double>(r.ok) / r.seconds, Percentile(r.latencies_us, 0.50) / 1000,
           Percentile(r.latencies_us, 0.99) / 1000, r.errors, r.connections_served, c, per_commit,
           busy * 100);
    if (r.errors > 0 || r.connections_served != c) failed = true;
  }
  server.Stop();
  // Durable: each committed batch had its payloads fdatasync'd and its rows committed FULL.
  uint64_t commits = inbox.commits() - commits_before;
  uint64_t durable = store->durable_commits() - durable_before;
  uint64_t syncs = store->payload_log()->syncs() - syncs_before;
  printf(
      "  durable: %lu batches committed, %lu payload fdatasyncs, %lu synchronous=FULL commits: "
      "%s\n",
      static_cast<unsigned long>(commits), static_cast<unsigned long>(syncs),
      static_cast<unsigned long>(durable),
      syncs >= commits && durable >= commits ? "every 202 was on stable storage" : "MISSING");
  if (syncs < commits || durable < commits) failed = true;
  // Every acknowledged delivery is in the file, read through a fresh connection.
  std::unique_ptr<orch::sql::Connection> check = orch::sql::OpenSqlite(db, 5000);
  orch::sql::Statement count(*check, "SELECT COUNT(*) FROM webhook_deliveries");
  count.executeStep();
  long stored = count.getColumn(0).getInt64();
  printf("  acknowledged %ld, in the inbox %ld: %s\n", acknowledged, stored,
         stored == acknowledged ? "every 2xx was stored" : "MISMATCH");
  if (stored != acknowledged) failed = true;
  // And each payload reads back whole (wherever the store keeps it): a sample of them.
  long bad = 0, sampled = 0;
  for (long id = 1; id <= stored; id += std::max(1L, stored / 1000), ++sampled) {
    orch::Result<orch::Delivery> d = store->GetDelivery(id);
    if (!d.ok() || orch::Sha256Hex(d->payload) != d->payload_hash) ++bad;
  }
  printf("  payloads read back and hashed: %ld of %ld sampled %s\n", sampled - bad, sampled,
         bad ? "MISMATCH" : "intact");
  if (bad) failed = true;
  // The price of keeping dedup's keys in memory: `orch serve` reads them all when it starts
  // (and a connection again after a pruning deleted rows).
  {
    auto fresh = std::move(orch::Store::Open(db, clock)).value();
    size_t heap0 = mallinfo2().uordblks;
    Clock::time_point t0 = Clock::now();
    bool loaded = fresh->LoadInboxKeys().ok();
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    double bytes = static_cast<double>(mallinfo2().uordblks - heap0);
    t0 = Clock::now();
    orch::Result<orch::InboxOutcome> first =
        fresh->StoreDelivery({DeliveryId("first", 0), "issues", "labeled", "acme/widgets", body});
    double first_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    printf(
        "  reading dedup's keys of %ld deliveries (at start): %.1f ms, %.2f us and %.0f bytes "
        "of memory per delivery; the first commit after it: %.0f us\n",
        stored, ms, ms * 1000 / static_cast<double>(stored), bytes / static_cast<double>(stored),
        first_us);
    if (!loaded || !first.ok() || *first != orch::InboxOutcome::kStored) failed = true;
  }
  std::filesystem::remove_all(dir);
  return failed || !sink ? 1 : 0;
}
