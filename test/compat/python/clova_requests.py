"""CLOVA Speech through Python `requests`, the way NAVER's published Python sample
(`ClovaSpeechClient`) talks, for Sori's compatibility suite.

The sample's class is below nearly as published: `req_url`, `req_object_storage` and `req_upload`
with its headers (`Accept` and `Content-Type: application/json;UTF-8`, `X-CLOVASPEECH-API-KEY`),
its request body with a null for every option that is not set, `data=json.dumps(body).encode('UTF-8')`
for JSON bodies and `files={'media': open(path, 'rb'), 'params': (None, bytes, 'application/json')}`
for uploads. What differs: the invoke URL and secret are arguments; the language is an argument (the
sample hard-codes 'ko-KR' and the clip is English); options the sample's signature does not name
(`format`) go into the body as given; a timeout (the sample sets none); and `req_upload` takes the
shape of its `params` part, so that one script sends every shape `requests` users write:

    files={'media': f, 'params': (None, json_bytes, 'application/json')}      the sample: a field typed JSON
    files={'media': f, 'params': (None, json_str)}                            a plain text field
    files={'media': f, 'params': ('params.json', json_bytes, 'application/json')}   a file part
    data={'params': json_str}, files={'media': f}                             a form field, then the file

Run by test/compat/python-requests.int.test.ts against the stage of test/compat/harness.ts, which
sets SORI_URL (the invoke URL; one client also goes through an InvokeURL-style
/external/v1/{domainId}/{invokeKey} path), SORI_KEY (the secret), MEDIA_PATH (an 11 s English clip:
"... ask not what your country can do for you ..."), MEDIA_URL, OBJECT_KEY and CALLBACK_URL. Prints one JSON line per answer:
{"client", "shape", "schema", "status", "body"[, "callbackFor"]}. After each answer it checks that
the request was honoured (status, language, completion, userdata, word alignment, speakers,
forbidden words, ... as asked) and exits non-zero with a message on the first that was not.
"""
import json
import os
import sys
import time

import requests

CLIENT = 'python-requests'
TIMEOUT_S = 600
POLL_EVERY_S = 0.5
POLL_FOR_S = 300
SPOKEN = 'ask not'
SHORT_LANG = {'ko-KR': 'ko', 'en-US': 'en'}


class ClovaSpeechClient:
    """NAVER's long-form sample (see the module's doc for what differs)."""

    def __init__(self, invoke_url, secret):
        self.invoke_url = invoke_url
        self.secret = secret

    @staticmethod
    def request_body(completion, callback=None, userdata=None, forbiddens=None, boostings=None,
                     wordAlignment=True, fullText=True, diarization=None, sed=None, language='ko-KR', **more):
        """The sample's body: every option it knows is present, null when not set."""
        return {
            'language': language,
            'completion': completion,
            'callback': callback,
            'userdata': userdata,
            'wordAlignment': wordAlignment,
            'fullText': fullText,
            'forbiddens': forbiddens,
            'boostings': boostings,
            'diarization': diarization,
            'sed': sed,
            **more,
        }

    def req_url(self, url, completion, **options):
        request_body = {'url': url, **self.request_body(completion, **options)}
        headers = {
            'Accept': 'application/json;UTF-8',
            'Content-Type': 'application/json;UTF-8',
            'X-CLOVASPEECH-API-KEY': self.secret,
        }
        return requests.post(headers=headers, url=self.invoke_url + '/recognizer/url',
                             data=json.dumps(request_body).encode('UTF-8'), timeout=TIMEOUT_S)

    def req_object_storage(self, data_key, completion, **options):
        request_body = {'dataKey': data_key, **self.request_body(completion, **options)}
        headers = {
            'Accept': 'application/json;UTF-8',
            'Content-Type': 'application/json;UTF-8',
            'X-CLOVASPEECH-API-KEY': self.secret,
        }
        return requests.post(headers=headers, url=self.invoke_url + '/recognizer/object-storage',
                             data=json.dumps(request_body).encode('UTF-8'), timeout=TIMEOUT_S)

    def req_upload(self, file, completion, params_shape=None, **options):
        request_body = self.request_body(completion, **options)
        headers = {
            'Accept': 'application/json;UTF-8',
            'X-CLOVASPEECH-API-KEY': self.secret,
        }
        form = PARAMS_SHAPES[params_shape or SAMPLE_SHAPE]
        with open(file, 'rb') as media:
            return requests.post(headers=headers, url=self.invoke_url + '/recognizer/upload',
                                 timeout=TIMEOUT_S, **form(media, request_body))

    def req_status(self, token):
        """GET /recognizer/{token}: the sample has no method for it; same headers."""
        headers = {'Accept': 'application/json;UTF-8', 'X-CLOVASPEECH-API-KEY': self.secret}
        return requests.get(headers=headers, url=self.invoke_url + '/recognizer/' + token, timeout=TIMEOUT_S)


def json_text(body):
    return json.dumps(body, ensure_ascii=False)


def json_bytes(body):
    return json.dumps(body, ensure_ascii=False).encode('UTF-8')


# How the `params` part is sent: each gives requests.post's form arguments for (media, body).
# requests writes `data` fields before `files`, so the last shape sends params before media.
SAMPLE_SHAPE = "params=(None, bytes, 'application/json')"
PARAMS_SHAPES = {
    SAMPLE_SHAPE: lambda media, body: {
        'files': {'media': media, 'params': (None, json_bytes(body), 'application/json')}},
    "params=(None, str)": lambda media, body: {
        'files': {'media': media, 'params': (None, json_text(body))}},
    "params=('params.json', bytes, 'application/json')": lambda media, body: {
        'files': {'media': media, 'params': ('params.json', json_bytes(body), 'application/json')}},
    "data={'params': str} + files={'media': f}": lambda media, body: {
        'data': {'params': json_text(body)}, 'files': {'media': media}},
}


# --- answers and expectations ---------------------------------------------------------------

def report(shape, schema, response, **extra):
    """Prints the answer as one JSON line (schema null when the body is not JSON); returns the body."""
    try:
        body = response.json()
    except ValueError:
        body, schema = response.text, None
    print(json.dumps({'client': CLIENT, 'shape': shape, 'schema': schema, 'status': response.status_code,
                      'body': body, **extra}), flush=True)
    return body


def expect(condition, shape, message):
    if not condition:
        sys.exit(f'{CLIENT}: {shape}: {message}')


def expect_status(shape, response, status, body):
    expect(response.status_code == status, shape, f'HTTP {response.status_code}, expected {status}: {json.dumps(body)[:500]}')


def segment_text(body):
    return ' '.join(s['text'] for s in body['segments'])


def expect_honoured(shape, body, sent):
    """`body` is a finished result; `sent` the request body. Every option sent must show in it."""
    expect(isinstance(body, dict) and body.get('result') in ('COMPLETED', 'SUCCEEDED'), shape, f'not a finished result: {json.dumps(body)[:500]}')
    params = body['params']
    expect(params['lang'] == SHORT_LANG.get(sent['language'], sent['language']), shape,
           f"language {sent['language']} was not used: params.lang is {params['lang']!r}")
    expect(params['completion'] == sent['completion'], shape, f"completion {sent['completion']} echoed as {params['completion']!r}")
    expected_userdata = {} if sent['userdata'] is None else sent['userdata']
    expect(params['userdata'] == expected_userdata, shape, f"userdata {sent['userdata']!r} echoed as {params['userdata']!r}")
    if sent['callback'] is not None:
        expect(params.get('callback') == sent['callback'], shape, f"callback echoed as {params.get('callback')!r}")

    text = segment_text(body)
    expect(SPOKEN in text.lower(), shape, f'"{SPOKEN}" not in the segments: {text!r}')
    if sent['fullText'] is False:
        expect('text' not in body, shape, 'fullText false, yet a top-level text')
    else:
        expect(SPOKEN in body.get('text', '').lower(), shape, f"\"{SPOKEN}\" not in the text: {body.get('text')!r}")

    words = [w for s in body['segments'] for w in s['words']]
    if sent['wordAlignment'] is False:
        expect(words == [], shape, f'wordAlignment false, yet {len(words)} words')
    else:
        expect(len(words) > 0, shape, 'wordAlignment true, yet no words')

    diarization_on = sent['diarization'] is None or sent['diarization'].get('enable', True)
    expect(params['diarization']['enable'] == diarization_on, shape, f"diarization echoed as {params['diarization']}")
    if diarization_on:
        expect(len(body['speakers']) > 0 and all('speaker' in s for s in body['segments']), shape, 'diarization on, yet no speakers')
    else:
        expect(body['speakers'] == [] and not any('speaker' in s for s in body['segments']), shape, 'diarization off, yet speakers')

    if sent['boostings'] is not None:
        expect(params['boostings'] == sent['boostings'], shape, f"boostings echoed as {params['boostings']!r}")
    if sent['forbiddens'] is not None:
        expect(params['forbiddens'] == sent['forbiddens'], shape, f"forbiddens echoed as {params['forbiddens']!r}")
        for word in sent['forbiddens'].split(','):
            expect(word.lower() not in text.lower(), shape, f'forbidden word {word!r} not masked: {text!r}')
        expect('*' * len(sent['forbiddens'].split(',')[0]) in text, shape, f'no mask in {text!r}')
    if sent.get('format') is not None:
        subtitle = body.get('subtitle', '')
        expect(params.get('format') == sent['format'] and '-->' in subtitle and SPOKEN in subtitle.lower(), shape,
               f"format {sent['format']}: no subtitle file in the result: {subtitle!r}")


# --- the flows ------------------------------------------------------------------------------

def upload_sync(client, params_shape, **options):
    shape = f'upload {params_shape} sync'
    res = client.req_upload(os.environ['MEDIA_PATH'], 'sync', params_shape=params_shape, **options)
    body = report(shape, 'longformCompleted', res)
    expect_status(shape, res, 200, body)
    expect_honoured(shape, body, client.request_body('sync', **options))


def upload_async_then_poll(client, params_shape, **options):
    """The async answer, then GET /recognizer/{token} until the job is done."""
    shape = f'upload {params_shape} async'
    res = client.req_upload(os.environ['MEDIA_PATH'], 'async', params_shape=params_shape, **options)
    body = report(shape, 'longformAccepted', res)
    expect_status(shape, res, 200, body)
    expect(body.get('result') == 'SUCCEEDED' and 'segments' not in body, shape, f'not an async acceptance: {json.dumps(body)[:500]}')
    token = body['token']

    shape = f'{shape}: status'
    deadline = time.monotonic() + POLL_FOR_S
    while True:
        res = client.req_status(token)
        if res.status_code == 200 and res.json().get('result') in ('WAITING', 'PROCESSING'):
            report(shape, 'longformPending', res)
            expect(time.monotonic() < deadline, shape, f'still not finished after {POLL_FOR_S} s')
            time.sleep(POLL_EVERY_S)
            continue
        body = report(shape, 'longformCompleted', res)
        expect_status(shape, res, 200, body)
        expect(body.get('token') == token, shape, f"token {body.get('token')!r}, expected {token}")
        expect_honoured(shape, body, client.request_body('async', **options))
        return


def upload_async_with_callback(client, params_shape, **options):
    """The async answer only: the harness waits for the callback promised by `callbackFor`."""
    shape = f'upload {params_shape} async with callback'
    res = client.req_upload(os.environ['MEDIA_PATH'], 'async', params_shape=params_shape,
                            callback=os.environ['CALLBACK_URL'], **options)
    token = res.json().get('token') if res.status_code == 200 else None
    body = report(shape, 'longformAccepted', res, **({'callbackFor': token} if token else {}))
    expect_status(shape, res, 200, body)
    expect(body.get('result') == 'SUCCEEDED' and 'segments' not in body, shape, f'not an async acceptance: {json.dumps(body)[:500]}')


def url_sync(client, shape='url sync', **options):
    res = client.req_url(os.environ['MEDIA_URL'], 'sync', **options)
    body = report(shape, 'longformCompleted', res)
    expect_status(shape, res, 200, body)
    expect_honoured(shape, body, client.request_body('sync', **options))


def object_storage_sync(client, **options):
    shape = 'object-storage sync'
    res = client.req_object_storage(os.environ['OBJECT_KEY'], 'sync', **options)
    body = report(shape, 'longformCompleted', res)
    expect_status(shape, res, 200, body)
    expect_honoured(shape, body, client.request_body('sync', **options))


def short_recognition(invoke_url, secret):
    """POST /recog/v1/stt: the raw file as the body, the language in the query."""
    headers = {'X-CLOVASPEECH-API-KEY': secret, 'Content-Type': 'application/octet-stream'}
    shape = 'short lang=Eng'
    with open(os.environ['MEDIA_PATH'], 'rb') as media:
        res = requests.post(invoke_url + '/recog/v1/stt?lang=Eng', data=media, headers=headers, timeout=TIMEOUT_S)
    body = report(shape, 'shortSuccess', res)
    expect_status(shape, res, 200, body)
    expect(SPOKEN in body['text'].lower() and body['quota'] == 15, shape, f'expected the speech and quota 15: {body}')

    # Pronunciation assessment as a learning app sends it: a params dict, Python booleans
    # (requests writes True), the target sentence with spaces and punctuation.
    shape = 'short assessment'
    target = 'And so my fellow Americans, ask not what your country can do for you.'
    with open(os.environ['MEDIA_PATH'], 'rb') as media:
        res = requests.post(invoke_url + '/recog/v1/stt', data=media, headers=headers, timeout=TIMEOUT_S,
                            params={'lang': 'Eng', 'assessment': True, 'graph': True, 'utterance': target})
    body = report(shape, 'shortSuccess', res)
    expect_status(shape, res, 200, body)
    expect(isinstance(body.get('assessment_score'), int) and body['assessment_details'].startswith('and|{'), shape,
           f'expected an assessment of the target: {body}')
    expect(len(body.get('ref_graph', [])) == len(body.get('usr_graph', [None])), shape, 'expected ref_graph and usr_graph of one length')

    shape = 'short without lang'
    with open(os.environ['MEDIA_PATH'], 'rb') as media:
        res = requests.post(invoke_url + '/recog/v1/stt', data=media, headers=headers, timeout=TIMEOUT_S)
    body = report(shape, 'shortError', res)
    expect_status(shape, res, 400, body)
    expect(body['error']['errorCode'] == 'STT004', shape, f'expected STT004 (Empty Language): {body}')


def bad_secret(invoke_url):
    shape = 'url with a bad secret'
    res = ClovaSpeechClient(invoke_url, 'not-the-secret').req_url(os.environ['MEDIA_URL'], 'sync', language='en-US')
    body = report(shape, 'longformError', res)
    expect_status(shape, res, 401, body)
    expect(body.get('result') == 'ERROR_INVALID_SECRET', shape, f'expected ERROR_INVALID_SECRET: {body}')


def main():
    invoke_url, secret = os.environ['SORI_URL'], os.environ['SORI_KEY']
    client = ClovaSpeechClient(invoke_url, secret)
    english = {'language': 'en-US'}
    no_speakers = {'diarization': {'enable': False}}

    # Async first: the job with a callback runs while the next one waits, so polling sees WAITING.
    upload_async_with_callback(client, "params=(None, str)", **english, **no_speakers,
                               userdata={'flow': 'callback'})
    upload_async_then_poll(client, SAMPLE_SHAPE, **english, **no_speakers, wordAlignment=False,
                           userdata={'flow': 'poll'})

    # The sample as published: language, completion and userdata set, the rest its defaults (nulls;
    # wordAlignment and fullText true).
    upload_sync(client, SAMPLE_SHAPE, **english, userdata={'사용자': '한국어 userdata', 'n': 1})
    upload_sync(client, "params=(None, str)", **english, **no_speakers, wordAlignment=False,
                forbiddens='Americans', userdata='a string (문자열), as the Java sample sends')
    upload_sync(client, "params=('params.json', bytes, 'application/json')", **english, **no_speakers,
                fullText=False, boostings=[{'words': 'Americans,fellow'}], format='SRT', userdata=[1, 2])
    upload_sync(client, "data={'params': str} + files={'media': f}", **english, **no_speakers,
                sed={'enable': False}, wordAlignment=False, userdata=42)

    url_sync(client, **english, **no_speakers, wordAlignment=False, userdata={'from': 'url'})
    # The InvokeURL as NAVER's console gives it: /external/v1/{domainId}/{invokeKey} before /recognizer.
    invoke_client = ClovaSpeechClient(invoke_url + '/external/v1/1234/' + '0f' * 32, secret)
    url_sync(invoke_client, 'url sync, InvokeURL /external/v1/{domainId}/{invokeKey}', **english, **no_speakers,
             userdata={'from': 'url', 'via': 'InvokeURL'})
    object_storage_sync(client, **english, **no_speakers, userdata={'from': 'object storage'})

    short_recognition(invoke_url, secret)
    bad_secret(invoke_url)


if __name__ == '__main__':
    main()
