"""A CLOVA NestService client in Python (grpcio), written from the spec alone, the way the
official Python sample talks: 1 s chunks of 16-bit PCM, extra_contents {"seqId":0,"epFlag":false}.

usage: nest_client.py PROTO_DIR HOST:PORT SECRET PCM_FILE LANGUAGE
Prints every NestResponse.contents, one JSON per line.
"""
import json
import sys
import tempfile

from grpc_tools import protoc
import grpc


def main():
    proto_dir, target, secret, pcm_file, language = sys.argv[1:6]
    out = tempfile.mkdtemp()
    if protoc.main(['protoc', f'-I{proto_dir}', f'--python_out={out}', f'--grpc_python_out={out}', f'{proto_dir}/nest.proto']) != 0:
        raise SystemExit('protoc failed')
    sys.path.insert(0, out)
    import nest_pb2
    import nest_pb2_grpc

    with open(pcm_file, 'rb') as f:
        pcm = f.read()

    def requests():
        cfg = {'transcription': {'language': language}, 'semanticEpd': {'skipEmptyText': True}}
        yield nest_pb2.NestRequest(type=nest_pb2.CONFIG, config=nest_pb2.NestConfig(config=json.dumps(cfg)))
        for i in range(0, len(pcm), 32000):
            extra = json.dumps({'seqId': 0, 'epFlag': False})
            yield nest_pb2.NestRequest(type=nest_pb2.DATA, data=nest_pb2.NestData(chunk=pcm[i:i + 32000], extra_contents=extra))
        yield nest_pb2.NestRequest(type=nest_pb2.DATA, data=nest_pb2.NestData(chunk=b'', extra_contents=json.dumps({'seqId': 0, 'epFlag': True})))

    with grpc.insecure_channel(target) as channel:
        stub = nest_pb2_grpc.NestServiceStub(channel)
        for response in stub.recognize(requests(), metadata=(('authorization', f'Bearer {secret}'),)):
            print(response.contents, flush=True)


if __name__ == '__main__':
    main()
