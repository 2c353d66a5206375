package dev.flotilla.worker.fetch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One file over HTTP into {@code FILE.part}, resumed with a {@code Range} request where an earlier
 * attempt stopped, then checked and renamed into place ({@link DownloadCache#complete}). Redirects
 * are followed here, not by the client, for two reasons: the Hub's first answer (a redirect to its
 * file store for large files) carries the file's size and SHA-256 ({@code X-Linked-Size}, {@code
 * X-Linked-Etag}) that the store's answer lacks, and the token must not travel to another host.
 */
final class ResumableDownload {
  private static final int MAX_REDIRECTS = 5;
  private static final Pattern SHA256 = Pattern.compile("[0-9a-fA-F]{64}");
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-\\d+/(\\d+|\\*)");
  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "flotilla-download-watchdog");
            t.setDaemon(true);
            return t;
          });

  /** What the listing said of a file before the download: -1 and null when it said nothing. */
  record Expected(long size, String sha256) {
    static final Expected UNKNOWN = new Expected(-1, null);
  }

  private final HttpClient http;
  private final Optional<String> token;
  private final String tokenName;
  private final Duration stall;

  /**
   * @param token sent as a bearer token to the host of each download's first URL
   * @param tokenName the setting the token comes from, for errors ({@code HF_TOKEN})
   * @param stall how long a body may deliver nothing before the attempt is abandoned
   */
  ResumableDownload(HttpClient http, Optional<String> token, String tokenName, Duration stall) {
    this.http = http;
    this.token = token;
    this.tokenName = tokenName;
    this.stall = stall;
  }

  /** Downloads {@code uri} to {@code target} unless it is there already. */
  void fetch(URI uri, Path target, String file, Expected listed, Progress progress)
      throws IOException, InterruptedException {
    if (Files.isRegularFile(target)) {
      progress.bytes(Files.size(target));
      return;
    }
    Path part = DownloadCache.part(target);
    long have = Files.isRegularFile(part) ? Files.size(part) : 0;
    progress.bytes(have);
    URI at = uri;
    long size = -1;
    String sha = null;
    HttpResponse<InputStream> response = null;
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      HttpRequest.Builder request = HttpRequest.newBuilder(at).timeout(Duration.ofMinutes(2)).GET();
      if (have > 0) {
        request.header("Range", "bytes=" + have + "-");
      }
      if (token.isPresent() && Objects.equals(at.getAuthority(), uri.getAuthority())) {
        request.header("Authorization", "Bearer " + token.get());
      }
      response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
      HttpHeaders h = response.headers();
      size = size >= 0 ? size : h.firstValueAsLong("X-Linked-Size").orElse(-1);
      sha = sha != null ? sha : sha256(h.firstValue("X-Linked-Etag")).orElse(null);
      int status = response.statusCode();
      if (status < 300 || status >= 400 || status == 304) {
        break;
      }
      response.body().close();
      Optional<String> location = h.firstValue("Location");
      if (location.isEmpty()) {
        throw new FetchException(
            file, file + ": HTTP " + status + " from " + host(at) + " without a Location");
      }
      at = at.resolve(location.get());
      response = null;
    }
    if (response == null) {
      throw new FetchException(
          file, file + ": more than " + MAX_REDIRECTS + " redirects from " + host(uri));
    }
    int status = response.statusCode();
    HttpHeaders h = response.headers();
    sha = sha != null ? sha : sha256(h.firstValue("ETag")).orElse(listed.sha256());
    boolean append;
    switch (status) {
      case 200 -> {
        append = false;
        progress.bytes(-have);
        have = 0;
        size = size >= 0 ? size : h.firstValueAsLong("Content-Length").orElse(listed.size());
      }
      case 206 -> {
        Matcher m = CONTENT_RANGE.matcher(h.firstValue("Content-Range").orElse(""));
        if (!m.matches() || Long.parseLong(m.group(1)) != have) {
          response.body().close();
          Files.deleteIfExists(part);
          throw new FetchException(
              file,
              file
                  + ": "
                  + host(at)
                  + " answered the resume with the wrong range ("
                  + h.firstValue("Content-Range").orElse("none")
                  + "); the partial file was removed");
        }
        append = true;
        if (size < 0 && !"*".equals(m.group(2))) {
          size = Long.parseLong(m.group(2));
        }
      }
      case 416 -> {
        // Nothing after what we have: the part is already whole (checked below) or too long.
        response.body().close();
        DownloadCache.complete(
            part,
            target,
            file,
            size >= 0 ? size : listed.size(),
            DownloadCache.Checksum.sha256(sha));
        return;
      }
      default -> {
        response.body().close();
        throw new FetchException(file, file + ": " + refusal(status, at));
      }
    }
    if (size < 0) {
      size = listed.size();
    }
    Files.createDirectories(target.getParent());
    copy(response.body(), part, append, file, host(at), progress);
    DownloadCache.complete(part, target, file, size, DownloadCache.Checksum.sha256(sha));
  }

  private void copy(
      InputStream body, Path part, boolean append, String file, String host, Progress progress)
      throws IOException {
    long[] lastRead = {System.nanoTime()};
    boolean[] stalled = {false};
    ScheduledFuture<?> watch =
        WATCHDOG.scheduleWithFixedDelay(
            () -> {
              if (System.nanoTime() - lastRead[0] > stall.toNanos()) {
                stalled[0] = true;
                try {
                  body.close();
                } catch (IOException ignored) {
                  // the reading thread reports the failure
                }
              }
            },
            Math.max(1, stall.toMillis() / 4),
            Math.max(1, stall.toMillis() / 4),
            TimeUnit.MILLISECONDS);
    long written = 0;
    try (InputStream in = body;
        OutputStream out =
            Files.newOutputStream(
                part,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) >= 0; ) {
        lastRead[0] = System.nanoTime();
        out.write(buf, 0, n);
        written += n;
        progress.bytes(n);
      }
    } catch (IOException e) {
      String why =
          stalled[0]
              ? "no data from " + host + " for " + stall.toSeconds() + " s"
              : "the download from " + host + " broke off: " + e.getMessage();
      throw new FetchException(
          file,
          file
              + ": "
              + why
              + " after "
              + written
              + " bytes; "
              + Files.size(part)
              + " bytes are kept in "
              + part.getFileName()
              + " and the next attempt resumes there",
          e);
    } finally {
      watch.cancel(false);
    }
  }

  private String refusal(int status, URI at) {
    return switch (status) {
      case 401 ->
          "401 Unauthorized from "
              + host(at)
              + (token.isEmpty()
                  ? ": no " + tokenName + " is set, and a private or gated repository needs one"
                  : ": the " + tokenName + " given was not accepted");
      case 403 ->
          "403 Forbidden from "
              + host(at)
              + ": the "
              + (token.isEmpty() ? "anonymous request" : tokenName)
              + " has no access"
              + " (a gated repository needs its terms accepted by the token's owner)";
      case 404 -> "404 Not Found at " + at;
      default -> "HTTP " + status + " from " + at;
    };
  }

  static String host(URI uri) {
    return uri.getScheme() + "://" + uri.getAuthority();
  }

  /** The SHA-256 an ETag carries (quoted, maybe weak), if it is one (a git SHA-1 or MD5 is not). */
  static Optional<String> sha256(Optional<String> etag) {
    return etag.map(
            e -> e.replaceFirst("^W/", "").replace("\"", "").trim().toLowerCase(Locale.ROOT))
        .filter(e -> SHA256.matcher(e).matches());
  }
}
