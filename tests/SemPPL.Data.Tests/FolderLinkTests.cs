using SemPPL.Data.Datasets;
using Xunit;

namespace SemPPL.Data.Tests;

/// <summary>Directory links in a folder data set: each real directory is read once, so a loop cannot multiply the images.</summary>
public class FolderLinkTests
{
    [Fact]
    public void A_link_loop_and_a_second_link_to_a_folder_add_no_image_twice()
    {
        using var t = new TempDir();
        TestData.WriteFolder(t.Path, 2, 6);   // class0/, class0/deeper/, class1/, class1/deeper/: 12 images
        string class0 = Path.Combine(t.Path, "class0");
        Directory.CreateSymbolicLink(Path.Combine(class0, "deeper", "loop"), "..");              // class0/deeper/loop -> class0
        Directory.CreateSymbolicLink(Path.Combine(class0, "again"), Path.Combine(class0, "deeper")); // a second route to class0/deeper
        Directory.CreateSymbolicLink(Path.Combine(class0, "self"), ".");                          // class0/self -> class0

        var ds = new ImageFolderDataset(t.Path, 3, maxPixels: 50_000);

        Assert.Equal(12, ds.Count);
        var paths = Enumerable.Range(0, ds.Count).Select(ds.GetPath).ToList();
        Assert.Equal(paths.Count, paths.Select(FolderWalk.RealPath).Distinct().Count());
        Assert.Equal(6, Enumerable.Range(0, ds.Count).Count(i => ds.GetLabel(i) == 0));
    }

    [Fact]
    public void A_class_folder_that_is_a_link_is_read_through_it()
    {
        using var t = new TempDir();
        using var elsewhere = new TempDir();
        TestData.WriteFolder(elsewhere.Path, 2, 3);
        Directory.CreateDirectory(t.Path);
        Directory.CreateSymbolicLink(Path.Combine(t.Path, "class0"), Path.Combine(elsewhere.Path, "class0"));
        Directory.CreateSymbolicLink(Path.Combine(t.Path, "class1"), Path.Combine(elsewhere.Path, "class1"));

        var ds = new ImageFolderDataset(t.Path, 3, maxPixels: 50_000);

        Assert.Equal(6, ds.Count);
        Assert.All(Enumerable.Range(0, ds.Count), i => Assert.StartsWith(t.Path, ds.GetPath(i)));
    }
}
