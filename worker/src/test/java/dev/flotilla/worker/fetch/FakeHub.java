package dev.flotilla.worker.fetch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hub on loopback that answers the paths the real one does: {@code
 * /api/models/ORG/REPO/revision/REV} (commit and files, with size and SHA-256 of the large ones)
 * and {@code /ORG/REPO/resolve/REV/FILE}. Weights ({@code .safetensors}) are answered as the Hub
 * answers large files, a redirect carrying {@code X-Linked-Etag} and {@code X-Linked-Size} to a
 * file store on another port that serves byte ranges; other files come straight with a git-style
 * ETag. Every request is recorded with its Range and Authorization headers.
 */
public final class FakeHub implements AutoCloseable {
  public record Request(String server, String path, String range, String authorization) {}

  private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");
  private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/?]+)");

  public final String commit = "0123456789abcdef0123456789abcdef01234567";
  public final Map<String, byte[]> files = new ConcurrentHashMap<>();
  public final List<Request> requests = new CopyOnWriteArrayList<>();

  final List<String> missing = new CopyOnWriteArrayList<>();
  public volatile String repo = "org/tiny";
  volatile String token;

  /** The file store closes the connection after this many bytes of the next response, once. */
  volatile long cutAfter = -1;

  /** The file store serves these bytes in place of a file's (same length). */
  final Map<String, byte[]> corrupt = new ConcurrentHashMap<>();

  private final HttpServer hub;
  private final HttpServer store;

  public FakeHub() throws IOException {
    InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    hub = HttpServer.create(loopback, 0);
    store = HttpServer.create(loopback, 0);
    hub.createContext("/", this::hub);
    store.createContext("/", this::store);
    hub.start();
    store.start();
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
  }

  List<Request> requests(String server) {
    return requests.stream().filter(r -> r.server().equals(server)).toList();
  }

  private void hub(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getRawPath();
    record(ex, "hub");
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    if (token != null && !("Bearer " + token).equals(auth)) {
      reply(ex, 401, "{\"error\":\"Invalid credentials\"}".getBytes(StandardCharsets.UTF_8));
      return;
    }
    Matcher api = API.matcher(path);
    if (api.matches()) {
      String rev = URI.create("x:/" + api.group(2)).getPath().substring(1);
      if (!api.group(1).equals(repo) || !(rev.equals("main") || rev.equals(commit))) {
        reply(ex, 404, "{\"error\":\"Repository not found\"}".getBytes(StandardCharsets.UTF_8));
        return;
      }
      reply(ex, 200, listing());
      return;
    }
    Matcher m = RESOLVE.matcher(path);
    if (!m.matches() || !m.group(1).equals(repo) || !m.group(2).equals(commit)) {
      reply(ex, 404, new byte[0]);
      return;
    }
    String file = m.group(3);
    byte[] body = files.get(file);
    if (body == null || missing.contains(file)) {
      reply(ex, 404, "Entry not found".getBytes(StandardCharsets.UTF_8));
      return;
    }
    if (file.endsWith(".safetensors")) {
      ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256(body) + "\"");
      ex.getResponseHeaders().add("X-Linked-Size", String.valueOf(body.length));
      ex.getResponseHeaders()
          .add("Location", "http://127.0.0.1:" + store.getAddress().getPort() + "/blobs/" + file);
      ex.sendResponseHeaders(302, -1);
      ex.close();
      return;
    }
    ex.getResponseHeaders().add("ETag", "\"" + sha256(body).substring(0, 40) + "\"");
    reply(ex, 200, body);
  }

  private void store(HttpExchange ex) throws IOException {
    record(ex, "store");
    String file = ex.getRequestURI().getPath().substring("/blobs/".length());
    byte[] body = corrupt.getOrDefault(file, files.get(file));
    if (body == null) {
      reply(ex, 404, new byte[0]);
      return;
    }
    String range = ex.getRequestHeaders().getFirst("Range");
    int from = 0;
    int status = 200;
    if (range != null) {
      from = Integer.parseInt(range.replaceAll("bytes=(\\d+)-", "$1"));
      if (from >= body.length) {
        ex.sendResponseHeaders(416, -1);
        ex.close();
        return;
      }
      status = 206;
      ex.getResponseHeaders()
          .add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
    }
    int length = body.length - from;
    ex.sendResponseHeaders(status, length);
    long cut = cutAfter;
    try (OutputStream out = ex.getResponseBody()) {
      if (cut >= 0 && cut < length) {
        cutAfter = -1;
        out.write(body, from, (int) cut);
        out.flush();
        return; // closing short of the declared length ends the connection mid-body
      }
      out.write(body, from, length);
    }
  }

  private byte[] listing() throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    root.put("id", repo);
    root.put("sha", commit);
    ArrayNode siblings = root.putArray("siblings");
    List<String> names = new ArrayList<>(files.keySet());
    names.sort(null);
    for (String name : names) {
      ObjectNode s = siblings.addObject();
      s.put("rfilename", name);
      byte[] body = files.get(name);
      s.put("size", body.length);
      if (name.endsWith(".safetensors")) {
        s.putObject("lfs").put("sha256", sha256(body)).put("size", body.length);
      }
    }
    return json.writeValueAsBytes(root);
  }

  private void record(HttpExchange ex, String server) {
    requests.add(
        new Request(
            server,
            ex.getRequestURI().getRawPath(),
            ex.getRequestHeaders().getFirst("Range"),
            ex.getRequestHeaders().getFirst("Authorization")));
  }

  private static void reply(HttpExchange ex, int status, byte[] body) throws IOException {
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  static String sha256(byte[] body) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  void stop() {
    hub.stop(0);
    store.stop(0);
  }

  @Override
  public void close() {
    stop();
  }
}
