package dev.flotilla.worker.service;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ResourceInfo;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;

/** gRPC errors with google.rpc details, as the worker protocol promises them. */
final class Errors {
  private Errors() {}

  /** INVALID_ARGUMENT with a BadRequest naming the field. */
  static StatusRuntimeException invalid(String field, String message) {
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(Code.INVALID_ARGUMENT_VALUE)
            .setMessage(message)
            .addDetails(
                Any.pack(
                    BadRequest.newBuilder()
                        .addFieldViolations(
                            BadRequest.FieldViolation.newBuilder()
                                .setField(field)
                                .setDescription(message))
                        .build()))
            .build());
  }

  /** NOT_FOUND with a ResourceInfo naming the adapter. */
  static StatusRuntimeException adapterNotFound(String name, String message) {
    return StatusProto.toStatusRuntimeException(
        com.google.rpc.Status.newBuilder()
            .setCode(Code.NOT_FOUND_VALUE)
            .setMessage(message)
            .addDetails(
                Any.pack(
                    ResourceInfo.newBuilder()
                        .setResourceType("adapter")
                        .setResourceName(name)
                        .setDescription(message)
                        .build()))
            .build());
  }

  static StatusRuntimeException of(io.grpc.Status status, String message) {
    return status.withDescription(message).asRuntimeException();
  }
}
