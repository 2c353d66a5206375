package dev.flotilla.worker.fetch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;

/**
 * Fetches a Hub repository's files at a revision into the {@link DownloadCache}. The revision is
 * resolved to a commit through {@code GET /api/models/REPO/revision/REV?blobs=true} (which also
 * lists the files, with size and SHA-256 of the large ones), then each needed file comes from
 * {@code /REPO/resolve/COMMIT/FILE}. The endpoint is {@code HF_ENDPOINT} (a mirror speaks the same
 * paths); {@code HF_TOKEN}, when set, goes to it as a bearer token. When the Hub cannot be reached
 * and the cache holds a complete snapshot of the revision, that snapshot is used.
 */
public final class HubClient {
  private static final Logger LOG = Logger.getLogger(HubClient.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String COMPLETE = ".flotilla-complete";

  private final URI endpoint;
  private final HttpClient http;
  private final Optional<String> token;
  private final ResumableDownload download;
  private final int attempts;

  /**
   * @param attempts tries per file; a broken-off download resumes where it stopped
   */
  public HubClient(URI endpoint, Optional<String> token, Duration stall, int attempts) {
    this.endpoint = URI.create(endpoint.toString().replaceAll("/+$", "") + "/");
    this.http =
        HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(30))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    this.token = token.filter(t -> !t.isBlank());
    this.download = new ResumableDownload(http, this.token, "HF_TOKEN", stall);
    this.attempts = Math.max(1, attempts);
  }

  /** A file of the listing; size -1 and sha256 null where the listing does not say. */
  record Listed(String name, long size, String sha256) {}

  /** A revision resolved: its commit and its files. */
  record Revision(String commit, Map<String, Listed> files) {}

  /** Fetches what {@code set} needs of {@code source}; returns the snapshot directory. */
  public Path fetch(Source.Hub source, FileSet set, DownloadCache cache, Progress progress)
      throws InterruptedException {
    Revision revision;
    try {
      revision = resolve(source);
    } catch (IOException e) {
      Optional<Path> cached = cachedSnapshot(source, cache);
      if (cached.isPresent()) {
        LOG.warnf(
            "%s: the Hub at %s cannot be reached (%s); using the cached snapshot %s",
            source, endpoint, e, cached.get());
        return cached.get();
      }
      throw new FetchException(lookup(source), source + ": cannot reach " + endpoint + ": " + e, e);
    }
    Path snapshot = cache.hubSnapshot(source.repo(), revision.commit());
    if (Files.isRegularFile(snapshot.resolve(COMPLETE))) {
      return snapshot;
    }
    List<String> selected = set.select(revision.files().keySet(), source.toString());
    try (DownloadCache.Lock lock = DownloadCache.lock(snapshot)) {
      if (Files.isRegularFile(snapshot.resolve(COMPLETE))) {
        return snapshot; // another fetch finished it while this one waited
      }
      Files.createDirectories(snapshot);
      List<String> small = FileSet.small(selected);
      List<String> weights = new ArrayList<>();
      progress.plan(selected.size(), totalOf(selected, revision));
      for (String file : small) {
        get(source, revision, file, snapshot, progress);
      }
      weights.addAll(
          set == FileSet.MODEL
              ? FileSet.weights(snapshot, selected)
              : selected.stream().filter(n -> n.endsWith(".safetensors")).toList());
      progress.plan(
          small.size() + weights.size(), totalOf(small, revision) + totalOf(weights, revision));
      for (String file : weights) {
        get(source, revision, file, snapshot, progress);
      }
      Files.writeString(snapshot.resolve(COMPLETE), String.join("\n", selected) + "\n");
      cache.writeHubRef(source.repo(), source.revision(), revision.commit());
    } catch (IOException e) {
      throw new FetchException(
          snapshot.toString(), source + ": cannot write the cache at " + snapshot + ": " + e, e);
    }
    return snapshot;
  }

  private void get(
      Source.Hub source, Revision revision, String file, Path snapshot, Progress progress)
      throws InterruptedException {
    Listed listed = revision.files().get(file);
    URI uri =
        endpoint.resolve(source.repo() + "/resolve/" + revision.commit() + "/" + segment(file));
    progress.starting(file);
    for (int attempt = 1; ; attempt++) {
      long before = progress.bytesDone();
      try {
        download.fetch(
            uri,
            snapshot.resolve(file),
            file,
            new ResumableDownload.Expected(listed.size(), listed.sha256()),
            progress);
        progress.finished(file);
        return;
      } catch (FetchException e) {
        if (attempt >= attempts || !(e.getCause() instanceof IOException)) {
          throw withSource(source, e);
        }
        LOG.warnf("%s: %s (attempt %d of %d)", source, e.getMessage(), attempt, attempts);
      } catch (IOException e) {
        if (attempt >= attempts) {
          throw new FetchException(file, source + ": " + file + ": " + e, e);
        }
        LOG.warnf("%s: %s: %s (attempt %d of %d)", source, file, e, attempt, attempts);
      }
      progress.bytes(before - progress.bytesDone()); // counted again by the next attempt
    }
  }

  /** The commit {@code source}'s revision names now, and its files. */
  Revision resolve(Source.Hub source) throws IOException, InterruptedException {
    URI uri =
        endpoint.resolve(
            "api/models/"
                + source.repo()
                + "/revision/"
                + segment(source.revision())
                + "?blobs=true");
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(1)).GET();
    token.ifPresent(t -> request.header("Authorization", "Bearer " + t));
    HttpResponse<String> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    int status = response.statusCode();
    if (status != 200) {
      String why =
          switch (status) {
            case 401 ->
                token.isEmpty()
                    ? "401 Unauthorized: no HF_TOKEN is set, and a private or gated repository needs one"
                    : "401 Unauthorized: the HF_TOKEN given was not accepted";
            case 403 -> "403 Forbidden: the token has no access to the repository";
            case 404 -> "404 Not Found: no such repository, or no revision " + source.revision();
            default -> "HTTP " + status + " from " + uri;
          };
      throw new FetchException(lookup(source), source + ": the revision lookup failed: " + why);
    }
    JsonNode body = JSON.readTree(response.body());
    String commit = body.path("sha").asText("");
    if (!commit.matches("[0-9a-f]{40}")) {
      throw new FetchException(
          lookup(source), source + ": the revision lookup at " + uri + " gave no commit");
    }
    Map<String, Listed> files = new LinkedHashMap<>();
    for (JsonNode sibling : body.path("siblings")) {
      String name = sibling.path("rfilename").asText("");
      if (name.isEmpty() || name.startsWith("/") || name.contains("..")) {
        continue;
      }
      JsonNode lfs = sibling.path("lfs");
      long size = lfs.path("size").asLong(sibling.path("size").asLong(-1));
      String sha = lfs.path("sha256").isTextual() ? lfs.path("sha256").asText() : null;
      files.put(name, new Listed(name, size, sha));
    }
    return new Revision(commit, files);
  }

  private Optional<Path> cachedSnapshot(Source.Hub source, DownloadCache cache) {
    String commit =
        source.revision().matches("[0-9a-f]{40}")
            ? source.revision()
            : cache.hubRef(source.repo(), source.revision()).orElse(null);
    if (commit == null) {
      return Optional.empty();
    }
    Path snapshot = cache.hubSnapshot(source.repo(), commit);
    return Files.isRegularFile(snapshot.resolve(COMPLETE))
        ? Optional.of(snapshot)
        : Optional.empty();
  }

  private static long totalOf(List<String> files, Revision revision) {
    long total = 0;
    for (String f : files) {
      long size = revision.files().get(f).size();
      if (size < 0) {
        return -1;
      }
      total += size;
    }
    return total;
  }

  private static FetchException withSource(Source.Hub source, FetchException e) {
    return new FetchException(e.file(), source + ": " + e.getMessage(), e.getCause());
  }

  private static String lookup(Source.Hub source) {
    return "api/models/" + source.repo() + "/revision/" + source.revision();
  }

  private static String segment(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
