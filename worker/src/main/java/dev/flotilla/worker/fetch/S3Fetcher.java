package dev.flotilla.worker.fetch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jboss.logging.Logger;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.paginators.ListObjectsV2Iterable;

/**
 * Fetches the objects under an S3 prefix into the {@link DownloadCache} with the AWS SDK. The
 * snapshot is keyed by the selected objects' keys, sizes and ETags, so a changed object is fetched
 * again into a new snapshot. Credentials come from the SDK's default chain: {@code
 * AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY} (the operator sets them from a Secret), else the
 * pod's identity (web identity token, container or instance role). An endpoint ({@code
 * AWS_ENDPOINT_URL_S3}) selects an S3-compatible store, addressed path-style.
 */
public final class S3Fetcher implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(S3Fetcher.class);

  private final S3Client s3;
  private final int attempts;

  S3Fetcher(S3Client s3, int attempts) {
    this.s3 = s3;
    this.attempts = Math.max(1, attempts);
  }

  /**
   * @param endpoint an S3-compatible endpoint; AWS when empty
   * @param region the signing region; {@code us-east-1} when empty and the SDK's chain finds none
   * @param stall how long a read may wait for data before the attempt is abandoned
   */
  public static S3Fetcher create(
      Optional<URI> endpoint, Optional<String> region, Duration stall, int attempts) {
    return create(endpoint, region, stall, attempts, DefaultCredentialsProvider.builder().build());
  }

  static S3Fetcher create(
      Optional<URI> endpoint,
      Optional<String> region,
      Duration stall,
      int attempts,
      AwsCredentialsProvider credentials) {
    S3ClientBuilder builder =
        S3Client.builder()
            .httpClient(
                UrlConnectionHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(30))
                    .socketTimeout(stall)
                    .build())
            .credentialsProvider(credentials)
            .region(Region.of(region.filter(r -> !r.isBlank()).orElseGet(S3Fetcher::chainRegion)));
    // S3-compatible stores: path-style addressing (no bucket DNS names), and checksums only where
    // the protocol requires them, as many stores do not know the SDK's newer checksum headers.
    endpoint.ifPresent(
        e ->
            builder
                .endpointOverride(e)
                .forcePathStyle(true)
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED));
    return new S3Fetcher(builder.build(), attempts);
  }

  private static String chainRegion() {
    try {
      return new software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain()
          .getRegion()
          .id();
    } catch (SdkClientException e) {
      return "us-east-1";
    }
  }

  /** Fetches what {@code set} needs under {@code source}; returns the snapshot directory. */
  public Path fetch(Source.S3 source, FileSet set, DownloadCache cache, Progress progress) {
    String prefix =
        source.prefix().isEmpty() || source.prefix().endsWith("/")
            ? source.prefix()
            : source.prefix() + "/";
    Map<String, S3Object> objects = new LinkedHashMap<>();
    try {
      ListObjectsV2Iterable pages =
          s3.listObjectsV2Paginator(
              ListObjectsV2Request.builder().bucket(source.bucket()).prefix(prefix).build());
      pages.contents().forEach(o -> objects.put(o.key().substring(prefix.length()), o));
    } catch (SdkException e) {
      throw new FetchException(prefix, source + ": cannot list the objects: " + describe(e), e);
    }
    List<String> selected = set.select(objects.keySet(), source.toString());
    StringBuilder key = new StringBuilder();
    for (String name : selected) {
      S3Object o = objects.get(name);
      key.append(name).append(' ').append(o.size()).append(' ').append(o.eTag()).append('\n');
    }
    Path snapshot =
        cache.s3Snapshot(
            source.bucket(), prefix, DownloadCache.sha256(key.toString()).substring(0, 16));
    if (Files.isRegularFile(snapshot.resolve(HubClient.COMPLETE))) {
      return snapshot;
    }
    try (DownloadCache.Lock lock = DownloadCache.lock(snapshot)) {
      if (Files.isRegularFile(snapshot.resolve(HubClient.COMPLETE))) {
        return snapshot;
      }
      Files.createDirectories(snapshot);
      List<String> small = FileSet.small(selected);
      progress.plan(selected.size(), sizeOf(selected, objects));
      for (String file : small) {
        get(source, prefix + file, objects.get(file), snapshot.resolve(file), file, progress);
      }
      List<String> weights =
          new ArrayList<>(
              set == FileSet.MODEL
                  ? FileSet.weights(snapshot, selected)
                  : selected.stream().filter(n -> n.endsWith(".safetensors")).toList());
      List<String> fetched = new ArrayList<>(small);
      fetched.addAll(weights);
      progress.plan(fetched.size(), sizeOf(fetched, objects));
      for (String file : weights) {
        get(source, prefix + file, objects.get(file), snapshot.resolve(file), file, progress);
      }
      Files.writeString(snapshot.resolve(HubClient.COMPLETE), String.join("\n", selected) + "\n");
    } catch (IOException e) {
      throw new FetchException(
          snapshot.toString(), source + ": cannot write the cache at " + snapshot + ": " + e, e);
    }
    return snapshot;
  }

  private void get(
      Source.S3 source, String key, S3Object object, Path target, String file, Progress progress)
      throws IOException {
    progress.starting(file);
    if (Files.isRegularFile(target)) {
      progress.bytes(Files.size(target));
      progress.finished(file);
      return;
    }
    Path part = DownloadCache.part(target);
    for (int attempt = 1; ; attempt++) {
      long have = Files.isRegularFile(part) ? Files.size(part) : 0;
      long before = progress.bytesDone();
      progress.bytes(have);
      try {
        if (have < object.size()) {
          GetObjectRequest.Builder request =
              GetObjectRequest.builder().bucket(source.bucket()).key(key).ifMatch(object.eTag());
          if (have > 0) {
            request.range("bytes=" + have + "-");
          }
          try (InputStream in = s3.getObject(request.build());
              OutputStream out =
                  Files.newOutputStream(
                      part,
                      StandardOpenOption.CREATE,
                      StandardOpenOption.WRITE,
                      have > 0
                          ? StandardOpenOption.APPEND
                          : StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) >= 0; ) {
              out.write(buf, 0, n);
              progress.bytes(n);
            }
          }
        }
        DownloadCache.complete(part, target, file, object.size(), md5(object.eTag()));
        progress.finished(file);
        return;
      } catch (SdkException | IOException e) {
        long kept = Files.isRegularFile(part) ? Files.size(part) : 0;
        String message =
            source
                + ": "
                + file
                + ": "
                + describe(e)
                + "; "
                + kept
                + " bytes are kept in "
                + part.getFileName()
                + " and the next attempt resumes there";
        if (attempt >= attempts) {
          throw new FetchException(file, message, e);
        }
        LOG.warnf("%s (attempt %d of %d)", message, attempt, attempts);
        progress.bytes(before - progress.bytesDone());
      }
    }
  }

  private static long sizeOf(List<String> files, Map<String, S3Object> objects) {
    return files.stream().mapToLong(f -> objects.get(f).size()).sum();
  }

  /**
   * A single-part upload's ETag is the MD5 of the object; a multipart one's ({@code -N}) is not.
   */
  static DownloadCache.Checksum md5(String etag) {
    String e = etag == null ? "" : etag.replace("\"", "").trim();
    return e.matches("[0-9a-fA-F]{32}") ? new DownloadCache.Checksum("MD5", e) : null;
  }

  private static String describe(Exception e) {
    if (e instanceof S3Exception s && s.awsErrorDetails() != null) {
      String code = s.awsErrorDetails().errorCode();
      String hint =
          s.statusCode() == 403
              ? " (the credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the pod's"
                  + " identity have no access)"
              : "";
      return s.statusCode() + " " + code + ": " + s.awsErrorDetails().errorMessage() + hint;
    }
    return e.getMessage();
  }

  @Override
  public void close() {
    s3.close();
  }
}
