package dev.flotilla.local;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * The smallest thing a pod can run in the node-agent tests: an HTTP server on
 * QUARKUS_HTTP_HOST:QUARKUS_HTTP_PORT whose {@code /q/health/ready} turns 200 after
 * TINY_POD_READY_AFTER_MS, {@code /env/NAME} returns an environment variable, {@code
 * /file/NAME/FILE} the file FILE in the directory the variable NAME names, and {@code /exit/CODE}
 * exits. It logs its start and its SIGTERM.
 */
public final class TinyPod {
  private TinyPod() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    long readyAt =
        System.currentTimeMillis()
            + Long.parseLong(System.getenv().getOrDefault("TINY_POD_READY_AFTER_MS", "0"));
    String host = System.getenv().getOrDefault("QUARKUS_HTTP_HOST", "127.0.0.1");
    int port = Integer.parseInt(System.getenv().getOrDefault("QUARKUS_HTTP_PORT", "0"));
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getByName(host), port), 16);
    server.createContext(
        "/q/health/ready",
        x -> reply(x, System.currentTimeMillis() >= readyAt ? 200 : 503, "ready?"));
    server.createContext(
        "/env/",
        x -> {
          String value = System.getenv(x.getRequestURI().getPath().substring("/env/".length()));
          reply(x, value == null ? 404 : 200, value == null ? "" : value);
        });
    server.createContext(
        "/file/",
        x -> {
          String[] parts = x.getRequestURI().getPath().substring("/file/".length()).split("/", 2);
          String dir = System.getenv(parts[0]);
          java.nio.file.Path file = dir == null ? null : java.nio.file.Path.of(dir, parts[1]);
          boolean readable = file != null && java.nio.file.Files.isReadable(file);
          reply(x, readable ? 200 : 404, readable ? java.nio.file.Files.readString(file) : "");
        });
    server.createContext(
        "/exit/",
        x -> {
          reply(x, 200, "bye");
          System.exit(Integer.parseInt(x.getRequestURI().getPath().substring("/exit/".length())));
        });
    server.start();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("tiny pod stopping")));
    System.out.println("tiny pod listening on " + host + ":" + server.getAddress().getPort());
    Thread.currentThread().join();
  }

  private static void reply(com.sun.net.httpserver.HttpExchange x, int code, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    x.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = x.getResponseBody()) {
      out.write(bytes);
    }
  }
}
