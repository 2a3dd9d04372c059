"""A Plumb coordinator client written the way a Python user would: stubs generated from the .proto
files with protoc and grpc_python_plugin, then plain grpcio. Submits a job from a YAML file,
watches its events to the end (resuming from the last sequence if the stream breaks) and prints
one line per event and a summary line the C++ test checks:

  SUMMARY job=<id> state=<JOB_STATE_...> events=<n> rounds=<n> contiguous=<true|false>

usage: python_coordinator_client.py --stubs DIR --address HOST:PORT --token TOKEN --spec FILE
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    import grpc  # noqa: E402
    from plumb.v1 import coordinator_pb2, coordinator_pb2_grpc  # noqa: E402

    metadata = [("authorization", "Bearer " + args.token)]
    stub = coordinator_pb2_grpc.CoordinatorStub(grpc.insecure_channel(args.address))
    with open(args.spec) as spec:
        submitted = stub.SubmitJob(coordinator_pb2.SubmitJobRequest(spec_text=spec.read()),
                                   metadata=metadata, timeout=60)
    job_id = submitted.job_id
    events = []
    for _ in range(20):
        after = events[-1].sequence if events else 0
        try:
            for event in stub.WatchJob(
                    coordinator_pb2.WatchJobRequest(job_id=job_id, after_sequence=after),
                    metadata=metadata, timeout=600):
                events.append(event)
                print(event.sequence, coordinator_pb2.JobEventType.Name(event.type), event.message)
            break
        except grpc.RpcError as error:
            print("stream broke:", error.code(), file=sys.stderr)
    job = stub.GetJob(coordinator_pb2.GetJobRequest(job_id=job_id), metadata=metadata, timeout=60)
    rounds = sum(1 for e in events if e.type == coordinator_pb2.JOB_EVENT_TYPE_ROUND_FINISHED)
    contiguous = [e.sequence for e in events] == list(range(1, len(events) + 1))
    print("SUMMARY job=%s state=%s events=%d rounds=%d contiguous=%s" % (
        job_id, coordinator_pb2.JobState.Name(job.job.status.state), len(events), rounds,
        "true" if contiguous else "false"))


if __name__ == "__main__":
    main()
