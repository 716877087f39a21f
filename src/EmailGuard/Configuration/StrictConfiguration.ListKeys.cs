using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;

namespace EmailGuard;

/// <content>
/// The configuration key of each list item bound from configuration, so that a startup failure names the key the user
/// wrote. The binder compacts a list (<c>Rules:0</c> and <c>Rules:2</c> bind as items 0 and 1) and appends it to what
/// the list already held (the built-in provider rules, the default risky category), so an item's index is not its key.
/// </content>
internal static partial class StrictConfiguration
{
    private static readonly ConditionalWeakTable<object, ListKeys> s_listKeys = [];

    /// <summary>
    /// The configuration key of <paramref name="list"/>'s item at <paramref name="index"/> (<c>2</c> for <c>Rules:2</c>),
    /// or the index as text when the item was not bound from configuration (it was there before, or added in code).
    /// </summary>
    public static string ItemKey(object list, int index)
        => TryGetItemKey(list, index, out string? key) ? key : index.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="list"/>'s item at <paramref name="index"/> was bound from configuration, and its key.</summary>
    public static bool TryGetItemKey(object list, int index, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? key)
    {
        key = null;
        if (list is not IList items || index < 0 || index >= items.Count || !s_listKeys.TryGetValue(list, out ListKeys? keys))
        {
            return false;
        }

        // The item at the place it was bound to, or, when code has since inserted or removed items, the same object.
        object? item = items[index];
        int position = index - keys.Offset;
        if (position < 0 || position >= keys.Items.Length || !Same(keys.Items[position], item))
        {
            position = item is null or string or ValueType ? -1 : Array.FindIndex(keys.Items, bound => ReferenceEquals(bound, item));
        }

        if (position < 0)
        {
            return false;
        }

        key = keys.Keys[position];
        return true;
    }

    /// <summary>
    /// After a bind, records for every list under <paramref name="section"/> the keys its items were bound from: the
    /// binder appends the section's items, in the order of <see cref="IConfiguration.GetChildren"/>, after what the list
    /// held, so they are its last items.
    /// </summary>
    private static void RecordListKeys(IConfigurationSection section, object? instance, int depth)
    {
        if (instance is null or string || depth > MaxDepth || IsScalar(instance.GetType()))
        {
            return;
        }

        if (instance is IDictionary dictionary)
        {
            foreach (IConfigurationSection child in section.GetChildren())
            {
                if (dictionary.Contains(child.Key))
                {
                    RecordListKeys(child, dictionary[child.Key], depth + 1);
                }
            }

            return;
        }

        if (instance is IList list)
        {
            List<IConfigurationSection> items = [.. section.GetChildren().Where(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _))];
            int offset = list.Count - items.Count;
            if (items.Count == 0 || offset < 0)
            {
                return;
            }

            var bound = new object?[items.Count];
            for (int i = 0; i < items.Count; i++)
            {
                bound[i] = list[offset + i];
                RecordListKeys(items[i], bound[i], depth + 1);
            }

            s_listKeys.AddOrUpdate(list, new ListKeys(offset, bound, [.. items.Select(c => c.Key)]));
            return;
        }

        Dictionary<string, PropertyInfo> properties = BindableProperties(instance.GetType());
        foreach (IConfigurationSection child in section.GetChildren())
        {
            if (properties.TryGetValue(child.Key, out PropertyInfo? property))
            {
                RecordListKeys(child, property.GetValue(instance), depth + 1);
            }
        }
    }

    private static bool Same(object? bound, object? item) => bound is string or ValueType ? Equals(bound, item) : ReferenceEquals(bound, item);

    /// <summary>The items a list got from configuration: from <see cref="Offset"/> on, each with its key.</summary>
    private sealed record ListKeys(int Offset, object?[] Items, string[] Keys);
}
