package dev.flotilla.local;

import java.nio.file.Path;

/**
 * Where local mode puts things and which loopback ports it uses; every one can be changed on the
 * command line ({@code ./flotilla local --help}).
 */
public record LocalSettings(
    Path repo,
    Path state,
    int apiPort,
    int kafkaPort,
    int gatewayGrpcPort,
    int gatewayHttpPort,
    int operatorGrpcPort,
    int operatorHttpPort,
    boolean kafka,
    int gatewayManagementPort) {

  public static LocalSettings defaults(Path repo) {
    return new LocalSettings(
        repo, repo.resolve(".flotilla"), 16443, 19092, 9000, 8080, 9200, 8082, true, 9090);
  }

  public static LocalSettings parse(Path repo, String... args) {
    LocalSettings s = defaults(repo);
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--api-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    Integer.parseInt(value),
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--kafka-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    Integer.parseInt(value),
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--grpc-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    s.kafkaPort,
                    Integer.parseInt(value),
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--http-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    Integer.parseInt(value),
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--operator-grpc-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    Integer.parseInt(value),
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--operator-http-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    Integer.parseInt(value),
                    s.kafka,
                    s.gatewayManagementPort);
        case "--state-dir" ->
            s =
                new LocalSettings(
                    s.repo,
                    Path.of(value).toAbsolutePath(),
                    s.apiPort,
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    s.gatewayManagementPort);
        case "--no-kafka" -> {
          s =
              new LocalSettings(
                  s.repo,
                  s.state,
                  s.apiPort,
                  s.kafkaPort,
                  s.gatewayGrpcPort,
                  s.gatewayHttpPort,
                  s.operatorGrpcPort,
                  s.operatorHttpPort,
                  false,
                  s.gatewayManagementPort);
          continue;
        }
        case "--management-port" ->
            s =
                new LocalSettings(
                    s.repo,
                    s.state,
                    s.apiPort,
                    s.kafkaPort,
                    s.gatewayGrpcPort,
                    s.gatewayHttpPort,
                    s.operatorGrpcPort,
                    s.operatorHttpPort,
                    s.kafka,
                    Integer.parseInt(value));
        default -> throw new IllegalArgumentException("unknown option " + a + "\n" + usage());
      }
      i++;
    }
    return s;
  }

  public static String usage() {
    return """
        Usage: ./flotilla local [--api-port 16443] [--kafka-port 19092] [--grpc-port 9000] [--http-port 8080]
                                [--management-port 9090] [--operator-grpc-port 9200] [--operator-http-port 8082]
                                [--state-dir .flotilla] [--no-kafka]
        """;
  }

  public Path logs() {
    return state.resolve("logs");
  }

  /**
   * Where PersistentVolumeClaims are: {@code pvc://CLAIM/path} sources are read from {@code
   * <state>/pvc/CLAIM/path}.
   */
  public Path claims() {
    return state.resolve("pvc");
  }

  public Path kubeconfig() {
    return state.resolve("kubeconfig");
  }

  public Path jar(String module) {
    return repo.resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
  }
}
