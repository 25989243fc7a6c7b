using ActorNat.Core.Net;

namespace ActorNat.Core.Routing;

/// <summary>
/// A network interface with its addresses in the kernel's order: primaries in insertion order, then secondaries.
/// An address is secondary when a primary with the same prefix length already covers it (devinet.c, __inet_insert_ifa).
/// </summary>
public sealed class NetInterface
{
    private readonly List<InterfaceAddress> _addresses = [];

    public NetInterface(string name) => Name = name;

    public string Name { get; }
    public bool Up { get; set; } = true;
    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    public IEnumerable<InterfaceAddress> Primaries => _addresses.Where(a => !a.Secondary);

    public InterfaceAddress Add(IPv4 address, int prefixLength)
    {
        if (_addresses.Any(a => a.Address == address && a.PrefixLength == prefixLength))
            throw new InvalidOperationException($"address {address}/{prefixLength} already assigned to {Name}");
        var subnet = new Prefix(address, prefixLength);
        bool secondary = _addresses.Any(a => !a.Secondary && a.PrefixLength == prefixLength && subnet.Contains(a.Address));
        var added = new InterfaceAddress(address, prefixLength, secondary);
        if (secondary) _addresses.Add(added);
        else _addresses.Insert(_addresses.FindLastIndex(a => !a.Secondary) + 1, added);
        return added;
    }

    /// <summary>
    /// Deletes an address. Deleting a primary deletes its secondaries too, unless promote_secondaries is set, in which
    /// case the first secondary of that subnet becomes primary. Returns every address that went away.
    /// </summary>
    public IReadOnlyList<InterfaceAddress> Remove(IPv4 address, int prefixLength, bool promoteSecondaries)
    {
        int index = _addresses.FindIndex(a => a.Address == address && a.PrefixLength == prefixLength);
        if (index < 0) throw new InvalidOperationException($"address {address}/{prefixLength} is not assigned to {Name}");
        var removed = _addresses[index];
        _addresses.RemoveAt(index);
        var gone = new List<InterfaceAddress> { removed };
        if (removed.Secondary) return gone;

        var subnet = removed.Subnet;
        var followers = _addresses.Where(a => a.Secondary && a.PrefixLength == removed.PrefixLength && subnet.Contains(a.Address)).ToList();
        if (followers.Count == 0) return gone;
        if (promoteSecondaries)
        {
            var promoted = followers[0] with { Secondary = false };
            _addresses.Remove(followers[0]);
            _addresses.Insert(_addresses.FindLastIndex(a => !a.Secondary) + 1, promoted);
        }
        else
        {
            foreach (var f in followers) _addresses.Remove(f);
            gone.AddRange(followers);
        }
        return gone;
    }
}
