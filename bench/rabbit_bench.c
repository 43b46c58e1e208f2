/*  rabbit_bench.c - the RabbitMQ baseline of wob's dispatch benchmark.

    What a user who does not pick wob would do with the same work orders:
    put them in a durable queue and let 8 workers take them.  This program
    does, against a RabbitMQ server on loopback (rabbitmq-c 0.11):

      1. publish   one persistent message (delivery_mode 2) per target row
                   of the generated CSV into a durable queue, with publisher
                   confirms (confirm.select), keeping at most --window
                   messages unconfirmed, until every one is confirmed;
      2. consume   --consumers threads, each with its own connection and
                   channel, basic.qos prefetch --prefetch, manual acks (one
                   basic.ack per message, as a worker reports each order);
                   each thread closes its channel when all messages are
                   taken, so the server has processed every ack when the
                   clock stops.

    The consume phase is the figure compared with wob's dispatch (clock
    from the start of the consumer threads, connection set-up included,
    to the last channel closed).  The publish phase is reported too.  One
    JSON object goes to stdout:

      {"messages", "publish_s", "publish_per_s", "consume_s", "completed_per_s"}

    Usage:
      rabbit_bench --port P --targets CSV --count N [--consumers 8]
                   [--prefetch 100] [--window 1000] [--queue NAME]       */

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

typedef struct {
    int port;                   //  server's AMQP port on 127.0.0.1
    const char *targets;        //  CSV whose rows become message bodies
    long count;                 //  messages to publish and consume
    int consumers;              //  consumer threads (one connection each)
    int prefetch;               //  basic.qos prefetch count per consumer
    long window;                //  unconfirmed messages at most (publisher)
    const char *queue;          //  durable queue name
} s_config_t;

static s_config_t s_config = { 0, NULL, 0, 8, 100, 1000, "wob-bench" };
static atomic_long s_consumed;  //  deliveries taken by all consumers
static atomic_int s_failed;     //  a consumer hit an error

//  --- Helpers ----------------------------------------------------------

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  Exits with a message when an RPC reply is not normal.
static void
s_check (amqp_rpc_reply_t reply, const char *what)
{
    if (reply.reply_type == AMQP_RESPONSE_NORMAL)
        return;
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf (stderr, "rabbit_bench: %s: %s\n", what, amqp_error_string2 (reply.library_error));
    else
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION
    &&  reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = reply.reply.decoded;
        fprintf (stderr, "rabbit_bench: %s: server: %.*s\n", what,
                 (int) m->reply_text.len, (char *) m->reply_text.bytes);
    }
    else
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION
    &&  reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = reply.reply.decoded;
        fprintf (stderr, "rabbit_bench: %s: server: %.*s\n", what,
                 (int) m->reply_text.len, (char *) m->reply_text.bytes);
    }
    else
        fprintf (stderr, "rabbit_bench: %s: failed (reply type %d)\n", what, reply.reply_type);
    exit (1);
}

//  Connects, logs in as guest (allowed on loopback) and opens channel 1.
static amqp_connection_state_t
s_connect (void)
{
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *socket = amqp_tcp_socket_new (conn);
    if (!socket || amqp_socket_open (socket, "127.0.0.1", s_config.port)) {
        fprintf (stderr, "rabbit_bench: cannot connect to 127.0.0.1:%d\n", s_config.port);
        exit (1);
    }
    s_check (amqp_login (conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"),
             "login");
    amqp_channel_open (conn, 1);
    s_check (amqp_get_rpc_reply (conn), "channel.open");
    return conn;
}

static void
s_disconnect (amqp_connection_state_t conn)
{
    s_check (amqp_channel_close (conn, 1, AMQP_REPLY_SUCCESS), "channel.close");
    s_check (amqp_connection_close (conn, AMQP_REPLY_SUCCESS), "connection.close");
    amqp_destroy_connection (conn);
}

//  Reads the CSV's data rows (header skipped) into one buffer; rows are
//  reused in turn when count exceeds the file.
typedef struct {
    char *data;                 //  the whole file
    amqp_bytes_t *rows;         //  each row, pointing into data
    size_t n_rows;
} s_rows_t;

static void
s_rows_load (s_rows_t *self, const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "rabbit_bench: cannot open %s\n", path);
        exit (1);
    }
    fseek (file, 0, SEEK_END);
    long size = ftell (file);
    fseek (file, 0, SEEK_SET);
    self->data = malloc ((size_t) size + 1);
    if (fread (self->data, 1, (size_t) size, file) != (size_t) size) {
        fprintf (stderr, "rabbit_bench: cannot read %s\n", path);
        exit (1);
    }
    fclose (file);
    self->data [size] = 0;
    size_t cap = 1024;
    self->rows = malloc (cap * sizeof (amqp_bytes_t));
    self->n_rows = 0;
    char *line = strchr (self->data, '\n');     //  skip the header
    while (line && line [1]) {
        line++;
        char *end = strchr (line, '\n');
        size_t len = end? (size_t) (end - line): strlen (line);
        if (self->n_rows == cap) {
            cap *= 2;
            self->rows = realloc (self->rows, cap * sizeof (amqp_bytes_t));
        }
        self->rows [self->n_rows].bytes = line;
        self->rows [self->n_rows++].len = len;
        line = end;
    }
    if (!self->n_rows) {
        fprintf (stderr, "rabbit_bench: %s has no data rows\n", path);
        exit (1);
    }
}

//  --- Publisher --------------------------------------------------------

//  Waits for one confirm frame; returns the messages it confirms.
static long
s_wait_confirm (amqp_connection_state_t conn, uint64_t *confirmed)
{
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame (conn, &frame);
    if (rc != AMQP_STATUS_OK) {
        fprintf (stderr, "rabbit_bench: waiting for confirms: %s\n", amqp_error_string2 (rc));
        exit (1);
    }
    if (frame.frame_type != AMQP_FRAME_METHOD)
        return 0;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
        fprintf (stderr, "rabbit_bench: the server refused (nack) a message\n");
        exit (1);
    }
    if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD)
        return 0;
    //  The server confirms in publishing order on a channel: a multiple
    //  ack covers every tag up to its own, a single one the next tag.
    amqp_basic_ack_t *ack = frame.payload.method.decoded;
    uint64_t upto = ack->multiple? ack->delivery_tag: *confirmed + 1;
    if (upto < *confirmed)
        upto = *confirmed;
    long got = (long) (upto - *confirmed);
    *confirmed = upto;
    return got;
}

static double
s_publish (const s_rows_t *rows)
{
    amqp_connection_state_t conn = s_connect ();
    amqp_bytes_t queue = amqp_cstring_bytes (s_config.queue);
    amqp_queue_declare (conn, 1, queue, 0, 1, 0, 0, amqp_empty_table);
    s_check (amqp_get_rpc_reply (conn), "queue.declare");
    amqp_queue_purge (conn, 1, queue);
    s_check (amqp_get_rpc_reply (conn), "queue.purge");
    amqp_confirm_select (conn, 1);
    s_check (amqp_get_rpc_reply (conn), "confirm.select");

    amqp_basic_properties_t props;
    memset (&props, 0, sizeof (props));
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    props.delivery_mode = 2;                    //  persistent
    props.content_type = amqp_cstring_bytes ("text/csv");

    double start = s_now ();
    uint64_t confirmed = 0;
    for (long i = 0; i < s_config.count; i++) {
        while ((long) i - (long) confirmed >= s_config.window)
            s_wait_confirm (conn, &confirmed);
        int rc = amqp_basic_publish (conn, 1, amqp_empty_bytes, queue, 0, 0, &props,
                                     rows->rows [(size_t) i % rows->n_rows]);
        if (rc != AMQP_STATUS_OK) {
            fprintf (stderr, "rabbit_bench: publish: %s\n", amqp_error_string2 (rc));
            exit (1);
        }
        if ((i & 1023) == 0)
            amqp_maybe_release_buffers (conn);
    }
    while ((long) confirmed < s_config.count)
        s_wait_confirm (conn, &confirmed);
    double elapsed = s_now () - start;
    s_disconnect (conn);
    return elapsed;
}

//  --- Consumers --------------------------------------------------------

static void *
s_consumer (void *arg)
{
    (void) arg;
    amqp_connection_state_t conn = s_connect ();
    amqp_basic_qos (conn, 1, 0, (uint16_t) s_config.prefetch, 0);
    s_check (amqp_get_rpc_reply (conn), "basic.qos");
    amqp_basic_consume (conn, 1, amqp_cstring_bytes (s_config.queue), amqp_empty_bytes,
                        0, 0, 0, amqp_empty_table);
    s_check (amqp_get_rpc_reply (conn), "basic.consume");
    struct timeval timeout = { 0, 2000 };       //  2 ms: notice the end soon
    while (atomic_load (&s_consumed) < s_config.count && !atomic_load (&s_failed)) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers (conn);
        amqp_rpc_reply_t reply = amqp_consume_message (conn, &envelope, &timeout, 0);
        if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
            if (amqp_basic_ack (conn, 1, envelope.delivery_tag, 0) != AMQP_STATUS_OK) {
                fprintf (stderr, "rabbit_bench: basic.ack failed\n");
                atomic_store (&s_failed, 1);
            }
            amqp_destroy_envelope (&envelope);
            atomic_fetch_add (&s_consumed, 1);
        }
        else
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
        &&  reply.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        else {
            s_check (reply, "consume");
            atomic_store (&s_failed, 1);
        }
    }
    //  channel.close is answered after the server has handled every ack
    //  sent before it on this channel.
    s_disconnect (conn);
    return NULL;
}

static double
s_consume (void)
{
    pthread_t *threads = calloc ((size_t) s_config.consumers, sizeof (pthread_t));
    atomic_store (&s_consumed, 0);
    double start = s_now ();
    for (int i = 0; i < s_config.consumers; i++)
        pthread_create (&threads [i], NULL, s_consumer, NULL);
    for (int i = 0; i < s_config.consumers; i++)
        pthread_join (threads [i], NULL);
    double elapsed = s_now () - start;
    free (threads);
    if (atomic_load (&s_failed) || atomic_load (&s_consumed) != s_config.count) {
        fprintf (stderr, "rabbit_bench: consumed %ld of %ld messages\n",
                 atomic_load (&s_consumed), s_config.count);
        exit (1);
    }
    return elapsed;
}

static void
s_delete_queue (void)
{
    amqp_connection_state_t conn = s_connect ();
    amqp_queue_delete (conn, 1, amqp_cstring_bytes (s_config.queue), 0, 0);
    s_check (amqp_get_rpc_reply (conn), "queue.delete");
    s_disconnect (conn);
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: rabbit_bench --port P --targets CSV --count N [--consumers 8]\n"
                     "                    [--prefetch 100] [--window 1000] [--queue NAME]\n");
    exit (1);
}

int
main (int argc, char **argv)
{
    static struct option options [] = {
        { "port", required_argument, 0, 'p' }, { "targets", required_argument, 0, 't' },
        { "count", required_argument, 0, 'n' }, { "consumers", required_argument, 0, 'c' },
        { "prefetch", required_argument, 0, 'f' }, { "window", required_argument, 0, 'w' },
        { "queue", required_argument, 0, 'q' }, { 0, 0, 0, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1)
        switch (opt) {
            case 'p': s_config.port = atoi (optarg); break;
            case 't': s_config.targets = optarg; break;
            case 'n': s_config.count = atol (optarg); break;
            case 'c': s_config.consumers = atoi (optarg); break;
            case 'f': s_config.prefetch = atoi (optarg); break;
            case 'w': s_config.window = atol (optarg); break;
            case 'q': s_config.queue = optarg; break;
            default: s_usage ();
        }
    if (!s_config.port || !s_config.targets || s_config.count <= 0 || s_config.consumers <= 0
    ||  s_config.prefetch <= 0 || s_config.prefetch > 65535 || s_config.window <= 0)
        s_usage ();

    s_rows_t rows;
    s_rows_load (&rows, s_config.targets);
    double publish_s = s_publish (&rows);
    double consume_s = s_consume ();
    s_delete_queue ();
    printf ("{\"messages\": %ld, \"publish_s\": %.3f, \"publish_per_s\": %.0f, "
            "\"consume_s\": %.3f, \"completed_per_s\": %.0f}\n",
            s_config.count, publish_s, (double) s_config.count / publish_s,
            consume_s, (double) s_config.count / consume_s);
    free (rows.rows);
    free (rows.data);
    return 0;
}
