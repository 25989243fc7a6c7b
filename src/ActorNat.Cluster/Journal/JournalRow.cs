using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Serialization;
using Akka.Util;

namespace ActorNat.Cluster.Journal;

/// <summary>
/// One event as a row of Akka.Persistence.Sql's journal table (the same columns, values and serializer manifests, so
/// files and databases written by either plugin replay through the other): the payload serialized alone, its
/// serializer's id and string manifest, the write time in UTC ticks.
/// </summary>
public sealed record JournalRow(
    string Table, string PersistenceId, long SequenceNr, byte[] Message, string Manifest, int SerializerId,
    string? WriterUuid, long Created)
{
    /// <summary>The row of one persisted event; throws when the payload cannot be serialized (a rejection, not a failure).</summary>
    public static JournalRow From(string table, IPersistentRepresentation p, Akka.Serialization.Serialization serialization, long nowTicks)
    {
        if (p.Payload is Tagged)
            throw new NotSupportedException($"{p.PersistenceId}: tagged events are not supported by this journal (ActorNat tags none)");
        var payload = p.Payload;
        var serializer = serialization.FindSerializerFor(payload);
        // Akka's transport information lets actor references inside events serialize with this system's address.
        var bytes = Akka.Serialization.Serialization.WithTransport(serialization.System, (serializer, payload), s => s.serializer.ToBinary(s.payload));
        string manifest = serializer switch
        {
            SerializerWithStringManifest m => m.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => "",
        };
        return new JournalRow(table, p.PersistenceId, p.SequenceNr, bytes, manifest, serializer.Identifier, p.WriterGuid,
            p.Timestamp == 0 ? nowTicks : p.Timestamp);
    }

    /// <summary>A stored row back as the event Akka.Persistence.Sql would have replayed.</summary>
    public static IPersistentRepresentation ToPersistent(
        Akka.Serialization.Serialization serialization, string persistenceId, long sequenceNr, byte[] message,
        string? manifest, int? serializerId, bool deleted, string? writerUuid, long created)
    {
        object payload = serializerId is { } id
            ? serialization.Deserialize(message, id, manifest ?? "")
            : serialization.FindSerializerForType(Type.GetType(manifest ?? "", throwOnError: true)!).FromBinary(message, Type.GetType(manifest!, true));
        return new Persistent(payload, sequenceNr, persistenceId, manifest ?? "", deleted, ActorRefs.NoSender, writerUuid ?? "", created);
    }
}
